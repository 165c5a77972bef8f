// Where the database is: one rule shared by prisma.config.ts, the setup script and the portal.
// DATABASE_URL wins; `postgres://` / `postgresql://` selects PostgreSQL. Otherwise SQLite at
// ${RAYDESK_DATA_DIR:-./data}/raydesk.db. Relative paths resolve against the repository root.
import { join } from 'node:path';
import { REPO_ROOT, resolveRepoPath } from '@raydesk/common/node';

export type DatabaseProvider = 'sqlite' | 'postgresql';

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolveRepoPath(env.RAYDESK_DATA_DIR || './data');
}

export function providerOf(url: string): DatabaseProvider {
  return /^postgres(ql)?:\/\//i.test(url) ? 'postgresql' : 'sqlite';
}

/** The effective database URL, with SQLite file paths made absolute. */
export function resolveDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL?.trim();
  if (!url) return `file:${join(dataDir(env), 'raydesk.db')}`;
  if (providerOf(url) === 'postgresql') return url;
  if (!url.startsWith('file:')) {
    throw new Error('DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL)');
  }
  const path = url.slice('file:'.length);
  return `file:${resolveRepoPath(path)}`;
}

export function sqlitePath(url: string): string {
  return url.replace(/^file:/, '').replace(/\?.*$/, '');
}

export function schemaPathFor(provider: DatabaseProvider): string {
  return provider === 'postgresql'
    ? join(REPO_ROOT, 'prisma', 'postgres', 'schema.prisma')
    : join(REPO_ROOT, 'prisma', 'schema.prisma');
}
