// The display gateway: socket.io for browsers (attach tokens verified at the handshake), the
// internal HTTP API for the portal, /healthz and /metrics (bearer GATEWAY_SECRET, like the
// internal API), all on one HTTP server.
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import pino, { type Logger } from 'pino';
import { HypervisorError } from '@raydesk/hypervisor/api';
import {
  LIMITS,
  PROTOCOL_VERSION,
  handshakeAuthSchema,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from './protocol/browser.ts';
import {
  feedPrepareRequestSchema,
  type AttachClaims,
  type SessionListResponse,
} from './protocol/internal.ts';
import { AttachTokenError, ReplayCache, verifyAttachToken } from './auth/attach-token.ts';
import type { GatewayConfig } from './config.ts';
export type { GatewayConfig } from './config.ts';
import { EventPublisher } from './events.ts';
import { GatewayPeers, type PeerEvents } from './fleet/peers.ts';
import { GatewayHeartbeat } from './fleet/registry.ts';
import type { HostDirectory } from './hosts/directory.ts';
import { HypervisorPool } from './hypervisors/pool.ts';
import { createMetrics, type GatewayMetrics } from './metrics.ts';
import { FeedRegistry } from './sessions/feed.ts';
import { DEFAULT_SESSION_LIMITS, SessionAdmission } from './sessions/admission.ts';
import { SessionManager } from './sessions/manager.ts';

interface SocketData {
  claims: AttachClaims;
  clientId: string | null;
}

import type { TransferPolicy } from './sessions/transfer.ts';
import { RecordingStore } from './recording/store.ts';
import { DEFAULT_RECORDER_OPTIONS } from './recording/recorder.ts';
import { portalRecordingReporter } from './recording/report.ts';
import { recordingRangeSchema } from './protocol/recording.ts';
export {
  allowAllTransfers,
  type TransferDirection,
  type TransferPolicy,
  type TransferSubject,
} from './sessions/transfer.ts';
export interface GatewayOptions {
  config: GatewayConfig;
  /** Defaults to one hypervisor host at config.hypervisorUrl. */
  directory?: HostDirectory;
  logger?: Logger;
  /** Feed linger after the last viewer leaves, ms (default 10 s). */
  feedLingerMs?: number;
  defaultMetrics?: boolean;
  /** Who may use which clipboard and file direction; default: everyone, every direction. */
  transferPolicy?: TransferPolicy;
}

export interface Gateway {
  readonly http: HttpServer;
  readonly io: Server<ClientToServerEvents, ServerToClientEvents, PeerEvents, SocketData>;
  readonly sessions: SessionManager;
  readonly feeds: FeedRegistry;
  readonly events: EventPublisher;
  readonly metrics: GatewayMetrics;
  readonly directory: HostDirectory;
  readonly log: Logger;
  /** Null when the config has no `recording` section. */
  readonly recordings: RecordingStore | null;
  /** In a fleet (config.fleet), once listening: the other gateways through Redis. */
  readonly peers: GatewayPeers | null;
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

const LOOPBACK = /^(::1|(::ffff:)?127\.\d+\.\d+\.\d+)$/;

/**
 * The viewer's address. Browsers reach the gateway through the portal's proxy on this machine
 * (web/portal-server/gateway-proxy.mjs), so a loopback peer's last x-forwarded-for hop is the
 * user's; any other peer's own address is taken as it is.
 */
export function viewerAddress(peer: string | undefined, forwardedFor: string | undefined): string {
  const address = peer ?? '';
  if (!forwardedFor || !LOOPBACK.test(address)) return address;
  const hops = forwardedFor
    .split(',')
    .map((hop) => hop.trim())
    .filter(Boolean);
  return hops[hops.length - 1] ?? address;
}

/** A small JSON request body; anything unreadable or over `maxBytes` reads as undefined. */
async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function createGateway(options: GatewayOptions): Gateway {
  const { config } = options;
  const log = options.logger ?? pino({ level: config.logLevel, name: 'gateway' });
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics });
  const directory =
    options.directory ??
    new HypervisorPool({
      secret: config.hypervisorSecret,
      defaultHost: { id: config.hypervisorId ?? 'local', url: config.hypervisorUrl },
    });
  const feeds = new FeedRegistry(directory, log, options.feedLingerMs);
  const events = new EventPublisher(config.portalInternalUrl, config.secret, log, metrics);
  const recordings = config.recording
    ? new RecordingStore(
        {
          ...DEFAULT_RECORDER_OPTIONS,
          dir: config.recording.dir,
          gatewayId: config.fleet?.id ?? 'gateway',
          retentionDays: config.recording.retentionDays,
          maxTotalBytes: config.recording.maxTotalBytes,
          keyframeMs: config.recording.keyframeMs,
          input: config.recording.input,
        },
        portalRecordingReporter(config.portalInternalUrl, config.secret, log),
        log,
      )
    : null;
  const sessions = new SessionManager(feeds, events, metrics, log, {
    smallUpdateTiles: config.smallUpdateTiles,
    transferPolicy: options.transferPolicy,
    ...(recordings ? { recordings } : {}),
    policyMinuteMs: config.policyMinuteMs,
  });
  const admission = new SessionAdmission(config.sessionLimits ?? DEFAULT_SESSION_LIMITS, () =>
    sessions.list().map((s) => ({ userId: s.userId, vm: s.vm, mode: s.mode })),
  );
  const replayCache = new ReplayCache();
  const pruneTimer = setInterval(() => replayCache.prune(), 60_000);
  pruneTimer.unref();
  const secretDigest = digest(config.secret);
  let peers: GatewayPeers | null = null;
  let heartbeat: GatewayHeartbeat | null = null;

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    return !!match && timingSafeEqual(digest(match[1]!), secretDigest);
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(text);
  };

  /** The portal's admin routes read and delete recordings kept on this gateway. */
  const serveRecording = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    id: string,
    what: string,
  ): Promise<void> => {
    req.resume();
    if (!recordings) return send(res, 404, { error: 'recording is not set up' });
    if (req.method === 'GET' && what === '/index') {
      const index = await recordings.index(id);
      return index ? send(res, 200, index) : send(res, 404, { error: 'no such recording' });
    }
    if (req.method === 'GET' && what === '/bytes') {
      const range = recordingRangeSchema.safeParse(Object.fromEntries(url.searchParams));
      if (!range.success) return send(res, 400, { error: range.error.issues[0]?.message });
      const bytes = await recordings.read(id, range.data.from, range.data.to);
      if (!bytes) return send(res, 404, { error: 'no such recording' });
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': bytes.length,
        'cache-control': 'no-store',
      });
      res.end(bytes);
      return;
    }
    if (req.method === 'DELETE' && what === '') {
      const removed = await recordings.remove(id, 'admin');
      return send(
        res,
        removed ? 200 : 404,
        removed ? { ok: true } : { error: 'no such recording' },
      );
    }
    send(res, 405, { error: 'method not allowed' });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/healthz') {
      const hosts = directory
        .hosts()
        .map((h) => ({ id: h.id, connected: h.client.socket.connected }));
      send(res, 200, { ok: true, sessions: sessions.list().length, feeds: feeds.size, hosts });
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      // Session counts, traffic and errors are for the operator: the same bearer as /internal.
      if (!authorized(req)) {
        res.setHeader('www-authenticate', 'Bearer');
        send(res, 401, { error: 'unauthorized' });
        return;
      }
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    if (path.startsWith('/internal/')) {
      if (!authorized(req)) {
        send(res, 401, { error: 'unauthorized' });
        return;
      }
      if (req.method === 'GET' && path === '/internal/sessions') {
        // In a fleet: every gateway's sessions, so the portal may ask any of them.
        const own = sessions.list().map((s) => (peers ? { ...s, gateway: peers.id } : s));
        const body: SessionListResponse = {
          sessions: peers ? [...own, ...(await peers.sessions())] : own,
        };
        send(res, 200, body);
        return;
      }
      let m = /^\/internal\/sessions\/([A-Za-z0-9_-]{1,64})\/disconnect$/.exec(path);
      if (req.method === 'POST' && m) {
        req.resume();
        const message = 'Disconnected by an administrator.';
        const ok =
          sessions.disconnect(m[1]!, message) ||
          (peers !== null && (await peers.disconnect({ sessionId: m[1]!, message })));
        send(res, ok ? 200 : 404, ok ? { ok: true } : { error: 'no such session' });
        return;
      }
      m = /^\/internal\/recordings\/([A-Za-z0-9_-]{8,64})(\/index|\/bytes)?$/.exec(path);
      if (m) {
        await serveRecording(req, res, url, m[1]!, m[2] ?? '');
        return;
      }
      m = /^\/internal\/vms\/([a-z0-9][a-z0-9-]{0,62})\/feed$/.exec(path);
      if (req.method === 'POST' && m) {
        const body = feedPrepareRequestSchema.safeParse(await readJson(req, 4096));
        if (!body.success) {
          send(res, 400, { error: body.error.issues[0]?.message ?? 'invalid body' });
          return;
        }
        if (body.data.host) directory.place(m[1]!, body.data.host);
        await feeds.prepare(m[1]!);
        metrics.feeds.set(feeds.size);
        send(res, 202, { ok: true });
        return;
      }
      m = /^\/internal\/vms\/([a-z0-9][a-z0-9-]{0,62})\/thumbnail$/.exec(path);
      if (req.method === 'GET' && m) {
        const width = Number(url.searchParams.get('width') ?? 320);
        if (!Number.isInteger(width) || width < 16 || width > 4096) {
          send(res, 400, { error: 'width must be an integer 16..4096' });
          return;
        }
        try {
          const host = await directory.hostFor(m[1]!);
          const png = await host.client.thumbnail(m[1]!, width);
          res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
          res.end(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
        } catch (error) {
          const notFound = error instanceof HypervisorError && error.code === 'not_found';
          send(res, notFound ? 404 : 502, {
            error: error instanceof Error ? error.message : 'failed',
          });
        }
        return;
      }
    }
    send(res, 404, { error: 'not found' });
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: String(error) }, 'http handler failed');
      if (!res.headersSent) send(res, 500, { error: 'internal' });
      else res.destroy();
    });
  });

  const io = new Server<ClientToServerEvents, ServerToClientEvents, PeerEvents, SocketData>(http, {
    maxHttpBufferSize: LIMITS.maxHttpBufferSize,
    pingInterval: 5_000,
    pingTimeout: 5_000,
    perMessageDeflate: false,
    serveClient: false,
    cors: { origin: config.allowedOrigins.length ? config.allowedOrigins : true },
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      callback(
        null,
        !config.allowedOrigins.length || !origin || config.allowedOrigins.includes(origin),
      );
    },
  });
  io.engine.on('connection_error', (error: { code: number; message: string }) => {
    log.debug({ code: error.code, message: error.message }, 'engine connection error');
  });

  io.use((socket, next) => {
    // Sessions and logs read the address from the handshake.
    const forwardedFor = socket.request.headers['x-forwarded-for'];
    socket.handshake.address = viewerAddress(
      socket.request.socket.remoteAddress,
      Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor,
    );
    const auth = handshakeAuthSchema.safeParse(socket.handshake.auth);
    if (!auth.success) {
      metrics.authFailures.inc({ reason: 'bad_handshake' });
      next(new Error('bad_handshake'));
      return;
    }
    if (auth.data.protocol !== undefined && auth.data.protocol !== PROTOCOL_VERSION) {
      metrics.authFailures.inc({ reason: 'protocol_mismatch' });
      next(new Error('protocol_mismatch'));
      return;
    }
    verifyAttachToken(config.attachTokenSecret, auth.data.token, { replayCache }).then(
      (claims) => {
        const refused = admission.admit(socket.id, claims);
        if (refused) {
          metrics.authFailures.inc({ reason: refused });
          log.info(
            { reason: refused, user: claims.sub, vm: claims.vm, address: socket.handshake.address },
            'attach refused: session limit',
          );
          next(new Error(refused));
          return;
        }
        // The reservation ends when the socket attaches (connection) or goes away before that.
        socket.conn.once('close', () => admission.settle(socket.id));
        socket.data.claims = claims;
        socket.data.clientId = auth.data.clientId ?? null;
        next();
      },
      (error: unknown) => {
        const reason = error instanceof AttachTokenError ? error.reason : 'invalid';
        metrics.authFailures.inc({ reason });
        log.info({ reason, address: socket.handshake.address }, 'attach refused');
        // An expired token is named as such: the viewer fetches a fresh one (a page left open).
        next(new Error(reason === 'expired' ? 'token_expired' : 'unauthorized'));
      },
    );
  });

  io.on('connection', (socket) => {
    // attach() registers the session before its first await, so it counts from here on.
    admission.settle(socket.id);
    const host = socket.data.claims.host;
    if (host) directory.place(socket.data.claims.vm, host);
    sessions.attach(socket, socket.data.claims, socket.data.clientId).catch((error: unknown) => {
      log.error({ err: String(error) }, 'attach failed');
      socket.disconnect(true);
    });
  });

  return {
    http,
    io,
    sessions,
    feeds,
    events,
    metrics,
    directory,
    log,
    recordings,
    get peers() {
      return peers;
    },
    async listen(port = config.port, host = config.host) {
      const listening = await new Promise<{ port: number; url: string }>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          const address = http.address() as AddressInfo;
          resolve({ port: address.port, url: `http://${host}:${address.port}` });
        });
      });
      await recordings?.open();
      const fleet = config.fleet;
      if (fleet) {
        peers = await GatewayPeers.join({
          io,
          sessions,
          gatewayId: fleet.id,
          redisUrl: fleet.redisUrl,
          log,
        });
        const joined = peers;
        sessions.onControlAttach = (vm, clientId, by) => joined.takeover({ vm, clientId, by });
        heartbeat = new GatewayHeartbeat({
          databaseUrl: fleet.databaseUrl,
          gatewayId: fleet.id,
          url: fleet.internalUrl ?? listening.url,
          intervalMs: fleet.heartbeatMs,
          sessions: () => sessions.list().length,
          log,
        });
        await heartbeat.start();
      }
      return listening;
    },
    async close() {
      clearInterval(pruneTimer);
      await heartbeat?.stop();
      sessions.closeAll();
      recordings?.close();
      await feeds.closeAll();
      await new Promise<void>((resolve, reject) => {
        io.close(() => resolve()).catch(reject);
      });
      directory.close();
      await peers?.close();
    },
  };
}
