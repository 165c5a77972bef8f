// Starts the real portal (web/server.mjs over the production build in web/.next) as a child
// process against a running hypervisor and gateway, with a throwaway SQLite database and its own
// secrets, so it never touches ./data or a running Raydesk. Shared by the portal's end-to-end
// tests (e2e/), the attack suite (security/) and the benchmark (bench/portal.ts).
//
// The portal is used as another computer would use it: it listens on every address, and browsers
// reach it as http://vdi.example.test:<port>, a made-up name Chromium maps to 127.0.0.2
// (PORTAL_HOST_RESOLVER_RULE). Whatever listens on 127.0.0.1 alone (the gateway, the hypervisor)
// is out of their reach there, as it is from another computer; the browser gets the gateway only
// through the portal.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db } from '@raydesk/db';
import { REPO_ROOT } from '@raydesk/common/node';
import { setupDatabase } from '../scripts/db-setup.ts';

export const PORTAL_BUILD_ID = join(REPO_ROOT, 'web', '.next', 'BUILD_ID');

/** The host name browsers in the tests use for the portal. */
export const PORTAL_HOST_NAME = 'vdi.example.test';
/** Where that name points: this machine, but not 127.0.0.1. */
export const PORTAL_HOST_ADDRESS = '127.0.0.2';
/** Chromium flag that makes PORTAL_HOST_NAME resolve to PORTAL_HOST_ADDRESS. */
export const PORTAL_HOST_RESOLVER_RULE = `--host-resolver-rules=MAP ${PORTAL_HOST_NAME} ${PORTAL_HOST_ADDRESS}`;

/** A free TCP port on loopback (released at once; good enough for tests and the bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface PortalHealth {
  hypervisor: { ok: boolean };
  gateway: { ok: boolean };
}

export interface PortalServerOptions {
  /** Port to listen on (the gateway's portalInternalUrl may already name it). */
  port: number;
  hypervisor: { port: number; secret: string };
  /** Where the portal reaches the gateway, and where browsers do (the same on loopback). */
  gatewayUrl: string;
  /** The gateway's service secret (its calls to the portal's internal API). */
  gatewaySecret: string;
  /** The gateway verifies the attach tokens the portal mints with this. */
  attachSecret: string;
  /** Seeded as the administrator on the fresh database. */
  admin: { email: string; password: string };
  /** More portal settings (lockout limits, grace periods, ...). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for /api/health to answer 200. */
  startTimeoutMs?: number;
  /** Serve HTTPS with this certificate (TLS_CERT_FILE, TLS_KEY_FILE); `cert` is its PEM. */
  tls?: { certFile: string; keyFile: string; cert: string };
}

export interface PortalAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface PortalRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Host header (default `vdi.example.test:<port>`, as a browser sends it). */
  host?: string;
}

export interface PortalServer {
  /** http(s)://vdi.example.test:<port>: what browsers open (see PORTAL_HOST_RESOLVER_RULE). */
  url: string;
  port: number;
  /**
   * A request from this process as a browser would send it to `url` (Node cannot resolve the
   * made-up name): to 127.0.0.2 with that Host header, the path sent exactly as given, no
   * redirect followed.
   */
  request(path: string, init?: PortalRequest): Promise<PortalAnswer>;
  /** Prisma client on the portal's throwaway database. */
  db: Db;
  /** The environment the portal runs with (DATABASE_URL and the secrets included). */
  env: NodeJS.ProcessEnv;
  /** `prisma migrate deploy` time of the fresh database. */
  migrateMs: number;
  /** The first 200 answer of /api/health. */
  health: PortalHealth;
  /** Everything the portal printed so far. */
  log(): string;
  close(): Promise<void>;
}

function requestPortal(
  port: number,
  tlsCert: string | undefined,
  path: string,
  init: PortalRequest = {},
): Promise<PortalAnswer> {
  return new Promise((resolve, reject) => {
    const options = {
      host: PORTAL_HOST_ADDRESS,
      port,
      path,
      method: init.method ?? 'GET',
      headers: { host: init.host ?? `${PORTAL_HOST_NAME}:${port}`, ...init.headers },
      ...(tlsCert ? { ca: tlsCert, servername: PORTAL_HOST_NAME } : {}),
    };
    const req = (tlsCert ? httpsRequest : httpRequest)(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${path} within 30 s`)));
    req.end(init.body);
  });
}

async function pollHealth(
  request: (path: string, init?: PortalRequest) => Promise<PortalAnswer>,
  child: ChildProcess,
  timeoutMs: number,
  log: () => string,
  serviceSecret: string,
): Promise<PortalHealth> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null)
      throw new Error(`the portal exited (${child.exitCode}):\n${log()}`);
    try {
      // The service bearer gets the details (anonymous callers only learn up or down).
      const res = await request('/api/health', {
        headers: { authorization: `Bearer ${serviceSecret}` },
      });
      if (res.status === 200) return JSON.parse(res.text) as PortalHealth;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the portal did not answer /api/health within ${timeoutMs} ms:\n${log()}`);
}

export async function startPortalServer(options: PortalServerOptions): Promise<PortalServer> {
  if (!existsSync(PORTAL_BUILD_ID))
    throw new Error('the portal is not built: run `npm run build -w web` first');
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-portal-'));
  const url = `${options.tls ? 'https' : 'http'}://${PORTAL_HOST_NAME}:${options.port}`;
  const request = (path: string, init?: PortalRequest) =>
    requestPortal(options.port, options.tls?.cert, path, init);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HYPERVISOR_HOST: '127.0.0.1',
    HYPERVISOR_PORT: String(options.hypervisor.port),
    HYPERVISOR_SECRET: options.hypervisor.secret,
    // Only the portal's port is for browsers: the gateway goes through its proxy. A developer's
    // .env must not change that (empty values win over .env and count as unset).
    GATEWAY_URL: options.gatewayUrl,
    GATEWAY_PUBLIC_URL: '',
    PORTAL_PUBLIC_URL: '',
    PORTAL_BIND: '',
    TRUST_PROXY: '',
    TLS_CERT_FILE: options.tls?.certFile ?? '',
    TLS_KEY_FILE: options.tls?.keyFile ?? '',
    DATABASE_URL: `file:${join(dir, 'portal.db')}`,
    ADMIN_EMAIL: options.admin.email,
    ADMIN_PASSWORD: options.admin.password,
    SESSION_SECRET: `portal-session-secret-${Date.now()}-0123456789abcdef`,
    ATTACH_TOKEN_SECRET: options.attachSecret,
    GATEWAY_SECRET: options.gatewaySecret,
    ...options.env,
  };
  let output = '';
  let child: ChildProcess | null = null;
  let db: Db | null = null;
  // Never leave the portal running behind a parent that exits without closing it.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const close = async () => {
    process.removeListener('exit', killOnExit);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const force = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    await db?.$disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const setup = await setupDatabase(env);
    db = createDb(env.DATABASE_URL!);
    child = spawn(process.execPath, [join(REPO_ROOT, 'web', 'server.mjs')], {
      cwd: join(REPO_ROOT, 'web'),
      env: { ...env, PORT: String(options.port), NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const health = await pollHealth(
      request,
      child,
      options.startTimeoutMs ?? 60_000,
      () => output,
      env.GATEWAY_SECRET!,
    );
    return {
      url,
      port: options.port,
      request,
      db,
      env,
      migrateMs: setup.migrateMs,
      health,
      log: () => output,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
