// Carries the gateway's socket.io (long-poll requests and the WebSocket upgrade) on the portal's
// own origin, so a browser needs one URL, a reverse proxy one route and a firewall one port.
// Only GATEWAY_SOCKET_PATH is forwarded, always to the gateway's /socket.io/: the gateway's
// /internal/*, /metrics and /healthz are never reachable through the portal.
//
// http-proxy-3 rather than http-proxy: the same API, maintained, and it fixes http-proxy's
// socket leaks when a WebSocket upstream goes away (http-proxy has had no release since 2020).
//
// Expects the caller (web/server.mjs) to have dropped x-forwarded-* headers it does not trust.
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import { createProxyServer } from 'http-proxy-3';
import { GATEWAY_ID_PATTERN, GATEWAY_SOCKET_PATH } from './gateway-path.mjs';

const PLACEHOLDER_ORIGIN = 'http://portal.invalid';
const GATEWAY_PREFIX = '/gateway';
/** The gateway must answer a WebSocket upgrade within this. */
export const UPGRADE_TIMEOUT_MS = 10_000;
/** A long-poll request is held at most socket.io's ping interval; this is far above it. */
export const POLL_TIMEOUT_MS = 60_000;
/** socket.io pings every few seconds: an open WebSocket silent this long is dead. */
export const IDLE_TIMEOUT_MS = 60_000;
/** Headers meant for the portal that the gateway must not see. */
const PORTAL_ONLY_HEADERS = ['cookie', 'authorization'];

/**
 * The gateway path for a request path of the portal: `/socket.io/?…` for the socket.io path
 * (with any query), null for anything else. The path is judged after a browser-style parse, so
 * dot segments, backslashes or a second host cannot reach another gateway path.
 * @param {string | undefined} requestUrl
 * @returns {string | null}
 */
export function gatewayTargetPath(requestUrl) {
  if (typeof requestUrl !== 'string' || !requestUrl.startsWith('/')) return null;
  let url;
  try {
    url = new URL(requestUrl, PLACEHOLDER_ORIGIN);
  } catch {
    return null;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN || url.pathname !== `${GATEWAY_SOCKET_PATH}/`) return null;
  return `/socket.io/${url.search}`;
}

/**
 * In a fleet: the gateway id and its socket.io path for `/gateway/<id>/socket.io/?…`; the
 * one-gateway path gives `gatewayId: null`; anything else null. Parsed like gatewayTargetPath.
 * @param {string | undefined} requestUrl
 * @returns {{ gatewayId: string | null, path: string } | null}
 */
export function gatewayRoute(requestUrl) {
  const single = gatewayTargetPath(requestUrl);
  if (single) return { gatewayId: null, path: single };
  if (typeof requestUrl !== 'string' || !requestUrl.startsWith('/')) return null;
  let url;
  try {
    url = new URL(requestUrl, PLACEHOLDER_ORIGIN);
  } catch {
    return null;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return null;
  const match = /^\/gateway\/([^/]+)\/socket\.io\/$/.exec(url.pathname);
  if (!match || !GATEWAY_ID_PATTERN.test(match[1])) return null;
  return { gatewayId: match[1], path: `/socket.io/${url.search}` };
}

/**
 * Whether a request path belongs to the gateway's part of the portal (`/gateway`, `/gateway/…`),
 * which the portal answers itself: the socket.io path is proxied, the rest is 404.
 * @param {string | undefined} requestUrl
 */
export function isGatewayArea(requestUrl) {
  if (typeof requestUrl !== 'string') return false;
  let pathname;
  try {
    pathname = new URL(requestUrl, PLACEHOLDER_ORIGIN).pathname;
  } catch {
    return false;
  }
  return pathname === GATEWAY_PREFIX || pathname.startsWith(`${GATEWAY_PREFIX}/`);
}

/**
 * @param {{
 *   target: string,
 *   log: import('pino').Logger,
 *   upgradeTimeoutMs?: number,
 *   resolveGateway?: (gatewayId: string) => Promise<string | null>,
 * }} options  target: the gateway's internal base URL (GATEWAY_URL). resolveGateway (a fleet):
 *   the internal URL of a live gateway by its id, null for an unknown or lost one.
 */
export function createGatewayProxy({
  target,
  log,
  upgradeTimeoutMs = UPGRADE_TIMEOUT_MS,
  resolveGateway,
}) {
  const proxy = createProxyServer({ target, ws: true, proxyTimeout: POLL_TIMEOUT_MS });
  /** Client sockets of upgraded WebSockets, closed on stop. */
  const open = new Set();
  /** Client sockets whose upgrade went through: errors there are no longer HTTP answers. */
  const upgraded = new WeakSet();
  /** When each upgrade request reached the portal (performance.now()), for the debug log. */
  const arrivedAt = new WeakMap();

  // Without an 'error' listener an emitter error would crash the portal.
  proxy.on('error', (error) => log.warn({ err: error }, 'gateway proxy error'));
  proxy.on('proxyReqWs', (proxyReq, req, socket) => {
    proxyReq.setTimeout(upgradeTimeoutMs, () =>
      proxyReq.destroy(new Error(`the gateway did not answer within ${upgradeTimeoutMs} ms`)),
    );
    // When the request was handed to the gateway's socket: what comes after is the gateway's
    // (and the network's) time, not the portal's.
    let sentAt;
    proxyReq.once('finish', () => (sentAt = performance.now()));
    proxyReq.once('upgrade', () => {
      const since = arrivedAt.get(req);
      if (since !== undefined)
        log.debug(
          {
            tookMs: Math.round(performance.now() - since),
            sentMs: sentAt === undefined ? undefined : Math.round(sentAt - since),
          },
          'viewer WebSocket proxied',
        );
      upgraded.add(socket);
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    });
  });

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {{ targetPath: string, base: string }} route
   */
  function forwardRequest(req, res, { targetPath, base }) {
    forGateway(req, targetPath);
    proxy.web(req, res, { target: base }, (error) => {
      log.warn({ err: error, path: targetPath }, 'gateway unreachable (long-poll)');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: 'gateway_unavailable' }));
    });
  }

  /** Prepares a request for the gateway: its path there, the user's address, no portal cookies. */
  function forGateway(req, targetPath) {
    req.url = targetPath;
    for (const name of PORTAL_ONLY_HEADERS) delete req.headers[name];
    // The gateway records the user's address (socket.io sees only the portal's).
    req.headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '';
  }

  /**
   * Where a gateway-area path goes: its socket.io path and the gateway's base URL; null when
   * the path is not a socket.io path or names no live gateway.
   * @param {string | undefined} requestUrl
   * @returns {Promise<{ targetPath: string, base: string } | null>}
   */
  async function routeOf(requestUrl) {
    const route = resolveGateway ? gatewayRoute(requestUrl) : null;
    if (!route) {
      const targetPath = gatewayTargetPath(requestUrl);
      return targetPath ? { targetPath, base: target } : null;
    }
    if (route.gatewayId === null) return { targetPath: route.path, base: target };
    let base = null;
    try {
      base = await resolveGateway(route.gatewayId);
    } catch (error) {
      log.warn({ err: error }, 'gateway registry unreachable');
    }
    return base ? { targetPath: route.path, base } : null;
  }

  function notFound(res) {
    res.writeHead(404, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error: 'not_found', message: 'No such gateway.' }));
  }

  return {
    /**
     * Answers requests in the gateway's area: proxies socket.io long-polling, 404 otherwise.
     * Returns false for every other request (Next handles those).
     * @param {import('node:http').IncomingMessage} req
     * @param {import('node:http').ServerResponse} res
     */
    handleRequest(req, res) {
      if (!isGatewayArea(req.url)) return false;
      // routeOf never rejects: a registry it cannot read is an unknown gateway.
      void routeOf(req.url).then((route) => {
        if (!route) notFound(res);
        else forwardRequest(req, res, route);
      });
      return true;
    },

    /**
     * Every WebSocket upgrade to the portal comes here: the socket.io path goes to the gateway;
     * anything else is refused (the portal itself serves no WebSockets).
     * @param {import('node:http').IncomingMessage} req
     * @param {import('node:stream').Duplex} socket
     * @param {Buffer} head
     */
    handleUpgrade(req, socket, head) {
      arrivedAt.set(req, performance.now());
      socket.on('error', (error) => log.debug({ err: error }, 'viewer socket error'));
      void routeOf(req.url).then((route) => {
        if (!route) {
          refuse(socket, 404, 'Not Found');
          return;
        }
        forGateway(req, route.targetPath);
        proxy.ws(req, socket, head, { target: route.base }, (error) => {
          log.warn({ err: error }, 'gateway unreachable (WebSocket)');
          // Before the upgrade the browser still reads HTTP: a clean 502, and socket.io retries.
          if (!upgraded.has(socket)) refuse(socket, 502, 'Bad Gateway');
        });
      });
    },

    /** Closes every proxied WebSocket (on stop; viewers reconnect to the next portal). */
    close() {
      for (const socket of open) socket.destroy();
      open.clear();
      proxy.close();
    },
  };
}

/**
 * @param {import('node:stream').Duplex} socket
 * @param {number} status
 * @param {string} text
 */
function refuse(socket, status, text) {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}
