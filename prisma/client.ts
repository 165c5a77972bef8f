// One Prisma client for either database. Both generated clients have the same model API (they
// come from one schema), so the SQLite client's type stands for both.
import { PrismaClient as PostgresClient } from './generated/postgres/client.ts';
import { PrismaClient as SqliteClient } from './generated/sqlite/client.ts';
import { runtimeAdapterFactory } from './adapters.ts';
import { providerOf } from './db-url.ts';

export type Db = SqliteClient;

export function createDb(url: string): Db {
  const adapter = runtimeAdapterFactory(url);
  if (providerOf(url) === 'postgresql') {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return new PostgresClient({ adapter } as any) as unknown as Db;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = new SqliteClient({ adapter } as any);
  // Several processes share the file (portal, setup, tests): wait for locks instead of failing.
  void db.$queryRawUnsafe('PRAGMA busy_timeout = 5000').catch(() => undefined);
  return db;
}
