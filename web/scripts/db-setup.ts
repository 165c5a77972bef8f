// Database setup, run by `npm start` / `npm test` before the portal starts (idempotent, ~2-4 s):
//   npx tsx web/scripts/db-setup.ts          (from the repository root; or `npm run db:setup -w web`)
// 1. creates the data directory (SQLite),
// 2. generates the Prisma clients when missing or stale (both SQLite and PostgreSQL: the portal
//    imports both and picks one from DATABASE_URL at run time),
// 3. deploys migrations with the Prisma CLI through prisma.config.ts (JS engine + adapter),
// 4. seeds the admin (ADMIN_EMAIL / ADMIN_PASSWORD, only when that account does not exist yet),
//    the appliances and the local hypervisor host row.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadRootEnv,
  providerOf,
  REPO_ROOT,
  resolveDatabaseUrl,
  schemaPathFor,
  sqlitePath,
} from '../../prisma/db-url.ts';
import { hashPassword } from '../src/server/auth/password.ts';

const PRISMA_CLI = join(REPO_ROOT, 'node_modules', 'prisma', 'build', 'index.js');

export const APPLIANCES = [
  {
    name: 'desktop',
    title: 'Desktop',
    description:
      'Your personal Linux desktop (X11, JWM, terminal). It keeps its state between sessions.',
    memoryMiB: 256,
    maxLifetimeMin: null,
  },
  {
    name: 'browser',
    title: 'Disposable browser',
    description:
      'A throwaway web browser. Its disk is wiped when it closes and its network is filtered.',
    memoryMiB: 192,
    maxLifetimeMin: 60,
  },
  {
    name: 'console',
    title: 'Console',
    description: 'A minimal text console, for diagnostics.',
    memoryMiB: 64,
    maxLifetimeMin: null,
  },
] as const;

function log(message: string): void {
  process.stderr.write(`[db-setup] ${message}\n`);
}

function prisma(args: string[], url: string): void {
  execFileSync(process.execPath, [PRISMA_CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Generates a provider's client unless it exists and was made from the current schema. */
export function ensureClients(): void {
  for (const provider of ['sqlite', 'postgresql'] as const) {
    const schema = schemaPathFor(provider);
    const out = join(
      REPO_ROOT,
      'prisma',
      'generated',
      provider === 'sqlite' ? 'sqlite' : 'postgres',
    );
    const stamp = join(out, '.schema-hash');
    const hash = createHash('sha256').update(readFileSync(schema)).digest('hex');
    if (
      existsSync(join(out, 'client.ts')) &&
      existsSync(stamp) &&
      readFileSync(stamp, 'utf8') === hash
    )
      continue;
    const started = Date.now();
    // `url = env("DATABASE_URL")` must resolve to a URL of the schema's provider; generate never connects.
    const url =
      provider === 'sqlite' ? 'file:./unused.db' : 'postgresql://unused@127.0.0.1:5432/unused';
    prisma(['generate', '--schema', schema], url);
    writeFileSync(stamp, hash);
    log(`generated the ${provider} client in ${Date.now() - started} ms`);
  }
}

export function deployMigrations(url: string): number {
  const started = Date.now();
  try {
    prisma(['migrate', 'deploy'], url);
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `prisma migrate deploy failed:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`,
    );
  }
  return Date.now() - started;
}

export async function seed(url: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { createDb } = await import('../../prisma/client.ts');
  const db = createDb(url);
  try {
    // WAL lets readers and one writer work at once (persistent in the file).
    if (providerOf(url) === 'sqlite') await db.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    for (const a of APPLIANCES) {
      await db.appliance.upsert({
        where: { name: a.name },
        create: { ...a },
        update: { title: a.title, description: a.description },
      });
    }
    const hostId = env.HYPERVISOR_ID || 'local';
    const hostUrl = `http://${env.HYPERVISOR_HOST || '127.0.0.1'}:${env.HYPERVISOR_PORT || '7420'}`;
    await db.hypervisorHost.upsert({
      where: { id: hostId },
      create: { id: hostId, name: hostId === 'local' ? 'This machine' : hostId, url: hostUrl },
      update: { url: hostUrl },
    });
    const email = env.ADMIN_EMAIL?.trim().toLowerCase();
    const password = env.ADMIN_PASSWORD;
    if (!email || !password) {
      log('ADMIN_EMAIL / ADMIN_PASSWORD not set: no admin seeded');
    } else if (!(await db.user.findUnique({ where: { email } }))) {
      if (password.length < 8) throw new Error('ADMIN_PASSWORD must be at least 8 characters');
      await db.user.create({
        data: {
          email,
          name: 'Administrator',
          passwordHash: await hashPassword(password),
          role: 'admin',
          maxVms: 10,
          maxMemoryMiB: 4096,
        },
      });
      await db.auditEvent.create({
        data: { action: 'user.seed-admin', targetType: 'user', details: JSON.stringify({ email }) },
      });
      log(`seeded admin ${email}`);
    }
  } finally {
    await db.$disconnect();
  }
}

export async function setupDatabase(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ url: string; migrateMs: number }> {
  loadRootEnv();
  const url = resolveDatabaseUrl(env);
  if (providerOf(url) === 'sqlite') mkdirSync(dirname(sqlitePath(url)), { recursive: true });
  ensureClients();
  const migrateMs = deployMigrations(url);
  await seed(url, env);
  return { url, migrateMs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  setupDatabase()
    .then(({ url, migrateMs }) => {
      const where =
        providerOf(url) === 'sqlite' ? sqlitePath(url) : url.replace(/\/\/[^@]*@/, '//***@');
      log(
        `database ready (${where}): migrate deploy ${migrateMs} ms, total ${Date.now() - started} ms`,
      );
    })
    .catch((error: unknown) => {
      log(error instanceof Error ? error.message : String(error));
      process.exit(1);
    });
}
