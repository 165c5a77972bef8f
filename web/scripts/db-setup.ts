// Database setup, run by `npm start` / `npm test` before the portal starts (idempotent, ~2-4 s):
//   npx tsx web/scripts/db-setup.ts          (from the repository root; or `npm run db:setup -w @raydesk/web`)
//   ... --json                               also print {"adminCreated": ...} on stdout at the end
//   ... --reset-admin-password               set the administrator's password to ADMIN_PASSWORD
// 1. creates the data directory and the SQLite file owner-only (0700 / 0600; existing ones are
//    fixed too: the file holds the password hashes),
// 2. generates the Prisma clients when missing or stale (@raydesk/db/setup),
// 3. deploys migrations with the Prisma CLI through prisma.config.ts (@raydesk/db/setup),
// 4. seeds the admin (ADMIN_EMAIL / ADMIN_PASSWORD, only when that account does not exist yet),
//    the appliances and the local hypervisor host row.
import { mkdirSync } from 'node:fs';
import {
  ensurePrivateFile,
  PRIVATE_DIR_MODE,
  restrictFile,
  restrictTree,
} from '@raydesk/hypervisor/private-files';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRootEnv } from '@raydesk/common/node';
import { dataDir, providerOf, resolveDatabaseUrl, sqlitePath } from '@raydesk/db/url';
import { deployMigrations, ensureClients } from '@raydesk/db/setup';
import { hashPassword } from '../src/server/auth/password.ts';

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

/** Seeds appliances, the host row and the admin; returns the admin's email if it was created now. */
export async function seed(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  const { createDb } = await import('@raydesk/db');
  const db = createDb(url);
  let adminCreated: string | null = null;
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
    // In a fleet (FLEET=on) every host registers itself; only the embedded default seeds one.
    if (env.FLEET !== 'on') {
      const hostId = env.HYPERVISOR_ID || 'local';
      const hostUrl = `http://${env.HYPERVISOR_HOST || '127.0.0.1'}:${env.HYPERVISOR_PORT || '7420'}`;
      await db.hypervisorHost.upsert({
        where: { id: hostId },
        create: { id: hostId, name: hostId === 'local' ? 'This machine' : hostId, url: hostUrl },
        update: { url: hostUrl },
      });
    }
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
      adminCreated = email;
    }
  } finally {
    await db.$disconnect();
  }
  return adminCreated;
}

/**
 * Sets the administrator's password to ADMIN_PASSWORD (edit .env first), clears its failed
 * sign-ins, enables the account and signs it out everywhere: the operator's way back in.
 */
export async function resetAdminPassword(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const email = env.ADMIN_EMAIL?.trim().toLowerCase();
  const password = env.ADMIN_PASSWORD;
  if (!email || !password) throw new Error('ADMIN_EMAIL and ADMIN_PASSWORD must be set in .env');
  if (password.length < 8) throw new Error('ADMIN_PASSWORD must be at least 8 characters');
  const { createDb } = await import('@raydesk/db');
  const db = createDb(url);
  try {
    const user = await db.user.findUnique({ where: { email } });
    if (!user) throw new Error(`there is no account ${email}`);
    await db.user.update({
      where: { id: user.id },
      data: { passwordHash: await hashPassword(password), disabled: false },
    });
    await db.loginFailure.deleteMany({ where: { email } });
    await db.loginSession.updateMany({
      where: { userId: user.id, revokedAt: null },
      data: { revokedAt: new Date(), revokeReason: 'password-reset' },
    });
    await db.auditEvent.create({
      data: {
        action: 'user.password-reset',
        targetType: 'user',
        targetId: user.id,
        details: JSON.stringify({ email, by: 'db-setup --reset-admin-password' }),
      },
    });
    return email;
  } finally {
    await db.$disconnect();
  }
}

/** The SQLite file and its journals hold the password hashes: owner-only, whatever made them. */
function restrictSqliteFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) restrictFile(path + suffix);
}

export async function setupDatabase(env: NodeJS.ProcessEnv = process.env): Promise<{
  url: string;
  migrateMs: number;
  /** The administrator's email if this run created the account (the first start). */
  adminCreated: string | null;
}> {
  loadRootEnv();
  const url = resolveDatabaseUrl(env);
  const sqlite = providerOf(url) === 'sqlite' ? sqlitePath(url) : null;
  if (sqlite) {
    // New directories 0700. An existing one is only tightened when it is the data directory
    // (ours); a DATABASE_URL elsewhere may sit in a shared directory.
    mkdirSync(dirname(sqlite), { recursive: true, mode: PRIVATE_DIR_MODE });
    if (dirname(sqlite) === dataDir(env)) restrictTree(dataDir(env));
    // SQLite creates the file 0644 and gives its -wal/-shm the file's mode: create it 0600 first.
    ensurePrivateFile(sqlite);
  }
  ensureClients();
  const migrateMs = deployMigrations(url);
  const adminCreated = await seed(url, env);
  if (sqlite) restrictSqliteFiles(sqlite);
  return { url, migrateMs, adminCreated };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  setupDatabase()
    .then(async ({ url, migrateMs, adminCreated }) => {
      const where =
        providerOf(url) === 'sqlite' ? sqlitePath(url) : url.replace(/\/\/[^@]*@/, '//***@');
      log(
        `database ready (${where}): migrate deploy ${migrateMs} ms, total ${Date.now() - started} ms`,
      );
      if (process.argv.includes('--reset-admin-password')) {
        const email = await resetAdminPassword(url);
        log(`the password of ${email} is now ADMIN_PASSWORD from .env; its sessions were ended`);
      }
      // For scripts/lib/portal.ts: the one line on stdout (logs go to stderr).
      if (process.argv.includes('--json'))
        process.stdout.write(JSON.stringify({ adminCreated }) + '\n');
    })
    .catch((error: unknown) => {
      log(error instanceof Error ? error.message : String(error));
      process.exit(1);
    });
}
