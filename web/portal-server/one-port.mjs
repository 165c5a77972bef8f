// HTTPS and plain HTTP on one port, told apart by the first byte a client sends (a TLS
// handshake starts with 0x16). With TLS on, browsers get HTTPS, and the processes of this
// machine keep talking plain HTTP to the same port at 127.0.0.1 or ::1 (the gateway's session
// events to PORTAL_INTERNAL_URL, `npm start`'s readiness check); a plain-HTTP request that came
// in on any other address is redirected to HTTPS.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';

const TLS_HANDSHAKE = 0x16;
/** A connection that sends nothing for this long is dropped before either server sees it. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

const INTERNAL_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * Whether a connection is from this machine to its loopback address 127.0.0.1 or ::1. The
 * address it came in on decides, not the peer's: Linux gives local connections to any
 * 127.x address the peer address 127.0.0.1. (The e2e tests reach the portal at 127.0.0.2 as
 * another computer would.)
 * @param {import('node:net').Socket} socket
 */
export function isInternalConnection(socket) {
  return (
    INTERNAL_ADDRESSES.has(socket.localAddress ?? '') &&
    INTERNAL_ADDRESSES.has(socket.remoteAddress ?? '')
  );
}

/** `host` or `host:port` as a Host header may carry it, nothing else. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;

/**
 * Where a plain-HTTP request from another computer is sent: the same host and path over HTTPS,
 * or null when the Host header is unusable.
 */
export function httpsLocation(host, path) {
  if (typeof host !== 'string' || !HOST_HEADER.test(host)) return null;
  const safePath = typeof path === 'string' && path.startsWith('/') && !path.startsWith('//');
  return `https://${host}${safePath ? path : '/'}`;
}

/**
 * @param {{
 *   httpsServer: import('node:https').Server,
 *   onPlainRequest: import('node:http').RequestListener,
 *   onPlainUpgrade: (req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void,
 * }} o  onPlainRequest/onPlainUpgrade: what internal connections get over plain HTTP.
 */
export function createOnePortServer({ httpsServer, onPlainRequest, onPlainUpgrade }) {
  const httpServer = createHttpServer((req, res) => {
    if (isInternalConnection(req.socket)) {
      onPlainRequest(req, res);
      return;
    }
    const location = httpsLocation(req.headers.host, req.url);
    if (!location) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('Use HTTPS.');
      return;
    }
    res.writeHead(308, { location, 'content-type': 'text/plain' });
    res.end(`This portal speaks HTTPS: ${location}`);
  });
  httpServer.on('upgrade', (req, socket, head) => {
    if (isInternalConnection(req.socket)) onPlainUpgrade(req, socket, head);
    else socket.destroy();
  });

  const server = createNetServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (chunk) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      (chunk[0] === TLS_HANDSHAKE ? httpsServer : httpServer).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  const closeConnections = () => {
    httpServer.closeIdleConnections();
    httpsServer.closeIdleConnections();
  };
  return { server, httpServer, closeConnections };
}
