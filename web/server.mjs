// Production server for the portal: Next's documented custom-server API around node:http (or
// node:https with TLS_CERT_FILE and TLS_KEY_FILE). One port carries everything a browser needs:
// the pages, the API and the gateway's socket.io (portal-server/gateway-proxy.mjs).
//
// Why not bare `next start`: Next fills in x-forwarded-for only when the request lacks it, so a
// client could pick its own address and dodge the per-address sign-in lockout. Here the
// x-forwarded-* headers a client sends are dropped unless TRUST_PROXY=1 (set it only behind a
// reverse proxy that sets them); Next then records the socket's real address, and
// x-forwarded-proto says whether this socket (or the trusted proxy) spoke TLS.
//   node web/server.mjs            (PORT from the environment or the root .env, default 3000)
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { dirname } from 'node:path';
import { setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { loadRootEnv } from '@raydesk/common/node';
import next from 'next';
import pino from 'pino';
import { describePortal, portalAddresses } from './portal-server/addresses.mjs';
import { watchEventLoopStalls } from './portal-server/event-loop-stalls.mjs';
import { createGatewayResolver } from './portal-server/fleet-gateways.mjs';
import { createGatewayProxy } from './portal-server/gateway-proxy.mjs';
import { createOnePortServer } from './portal-server/one-port.mjs';
import { readTlsFiles } from './portal-server/tls.mjs';

const dir = dirname(fileURLToPath(import.meta.url));
loadRootEnv();

const log = pino({ name: 'portal', level: process.env.LOG_LEVEL || 'info' });

const port = Number(process.env.PORT || 3000);
// Unset: every address, IPv4 and IPv6. Users are on other computers.
const bind = process.env.PORTAL_BIND || undefined;
const trustProxy = process.env.TRUST_PROXY === '1' || process.env.TRUST_PROXY === 'true';
const gatewayUrl = process.env.GATEWAY_URL || 'http://127.0.0.1:7421';
const HSTS = 'max-age=31536000';
const UNTRUSTED_HEADERS = [
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
];

let tls;
try {
  tls = readTlsFiles(process.env);
} catch (error) {
  log.fatal(error.message);
  process.exit(1);
}

// No `hostname`: Next's request URLs carry a placeholder origin either way. Nothing the browser
// sees is built from it: redirects are relative (web/src/proxy.ts, web/src/server/http.ts).
const app = next({ dev: false, dir, port });
watchEventLoopStalls({ thresholdMs: Number(process.env.PORTAL_STALL_LOG_MS || 0), log });
const handle = app.getRequestHandler();
await app.prepare();

// A fleet: /gateway/<id>/socket.io goes to that gateway, as the registry has it.
const fleet = process.env.FLEET === 'on';
const loopback = !bind || bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
const gatewayProxy = createGatewayProxy({
  target: gatewayUrl,
  log,
  resolveGateway: fleet
    ? createGatewayResolver({
        portalUrl: `http://${loopback.includes(':') ? `[${loopback}]` : loopback}:${port}`,
        secret: process.env.GATEWAY_SECRET ?? '',
      })
    : undefined,
});

/** Drops what a client may not claim, and says whether the browser's connection is HTTPS. */
function normalizeHeaders(req) {
  if (!trustProxy) for (const name of UNTRUSTED_HEADERS) delete req.headers[name];
  const forwarded = req.headers['x-forwarded-proto']?.split(',')[0]?.trim();
  const https = Boolean(req.socket.encrypted) || forwarded === 'https';
  req.headers['x-forwarded-proto'] = https ? 'https' : 'http';
  return https;
}

function onRequest(req, res) {
  if (normalizeHeaders(req)) res.setHeader('Strict-Transport-Security', HSTS);
  if (gatewayProxy.handleRequest(req, res)) return;
  handle(req, res).catch((error) => {
    log.error({ err: error, method: req.method, url: req.url }, 'request failed');
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: 'internal', message: 'Something went wrong on our side.' }));
    }
  });
}

function onUpgrade(req, socket, head) {
  normalizeHeaders(req);
  gatewayProxy.handleUpgrade(req, socket, head);
}

let server;
let closeConnections;
if (tls) {
  const httpsServer = createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
  httpsServer.on('upgrade', onUpgrade);
  // A failed handshake (an old client, a rejected certificate) is the client's problem.
  httpsServer.on('tlsClientError', (error) => log.debug({ err: error }, 'TLS handshake failed'));
  ({ server, closeConnections } = createOnePortServer({
    httpsServer,
    onPlainRequest: onRequest,
    onPlainUpgrade: onUpgrade,
  }));
} else {
  const httpServer = createHttpServer(onRequest);
  httpServer.on('upgrade', onUpgrade);
  server = httpServer;
  closeConnections = () => httpServer.closeIdleConnections();
}
server.on('error', (error) => {
  log.fatal({ err: error }, `cannot listen on port ${port}`);
  process.exit(1);
});

server.listen({ port, host: bind }, () => {
  const addresses = portalAddresses({
    port,
    tls: Boolean(tls),
    bind,
    publicUrl: process.env.PORTAL_PUBLIC_URL || undefined,
  });
  log.info(
    {
      port,
      bind: bind ?? 'all addresses',
      https: Boolean(tls),
      trustProxy,
      gateway: gatewayUrl,
      url: addresses.url,
    },
    `portal listening: ${describePortal(addresses)}`,
  );
});

const stop = () => {
  gatewayProxy.close();
  server.close(() => process.exit(0));
  closeConnections();
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
