// The Prisma CLI work of the database package: generating both clients (SQLite and PostgreSQL:
// the portal imports both and picks one from DATABASE_URL at run time) and deploying migrations,
// through prisma.config.ts (JS engine + driver adapter, no engine downloads).
//   npx tsx prisma/setup.ts      generates the clients when missing or stale (npm run typecheck
//                                does this first: the portal's types come from them)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '@raydesk/common/node';
import { schemaPathFor } from './db-url.ts';

const PRISMA_CLI = join(REPO_ROOT, 'node_modules', 'prisma', 'build', 'index.js');

function log(message: string): void {
  process.stderr.write(`[db] ${message}\n`);
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

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureClients();
