// Starts the real portal (web/server.mjs over the production build in web/.next) as a child
// process against a running hypervisor and gateway, with a throwaway SQLite database and its own
// secrets, so it never touches ./data or a running Raydesk. Shared by the portal's end-to-end
// tests (e2e/) and the benchmark (bench/portal.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db } from '../../prisma/client.ts';
import { REPO_ROOT } from '../../prisma/db-url.ts';
import { setupDatabase } from '../../web/scripts/db-setup.ts';

export const PORTAL_BUILD_ID = join(REPO_ROOT, 'web', '.next', 'BUILD_ID');

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
}

export interface PortalServer {
  /** http://localhost:<port>: the portal's own Origin checks expect this host. */
  url: string;
  port: number;
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

async function pollHealth(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  log: () => string,
): Promise<PortalHealth> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null)
      throw new Error(`the portal exited (${child.exitCode}):\n${log()}`);
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) return (await res.json()) as PortalHealth;
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
  const url = `http://localhost:${options.port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HYPERVISOR_HOST: '127.0.0.1',
    HYPERVISOR_PORT: String(options.hypervisor.port),
    HYPERVISOR_SECRET: options.hypervisor.secret,
    GATEWAY_URL: options.gatewayUrl,
    GATEWAY_PUBLIC_URL: options.gatewayUrl,
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
      env: { ...env, PORT: String(options.port), PORTAL_BIND: '127.0.0.1', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const health = await pollHealth(url, child, options.startTimeoutMs ?? 60_000, () => output);
    return {
      url,
      port: options.port,
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
