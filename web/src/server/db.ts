// The portal's Prisma client: one per process (kept on globalThis across dev hot reloads).
import { createDb, type Db } from '@raydesk/db';
import { config } from './config.ts';

export type { Db };

const holder = globalThis as unknown as { __raydeskDb?: Db };

export function db(): Db {
  holder.__raydeskDb ??= createDb(config().databaseUrl);
  return holder.__raydeskDb;
}
