// Test helper: a fresh, migrated SQLite database in a temp dir (migrate deploy through the CLI,
// exactly as in production).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db } from '@raydesk/db';
import { deployMigrations, ensureClients } from '@raydesk/db/setup';

export async function freshSqlite(): Promise<{
  db: Db;
  url: string;
  cleanup: () => Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-test-db-'));
  const url = `file:${join(dir, 'test.db')}`;
  ensureClients();
  deployMigrations(url);
  const db = createDb(url);
  return {
    db,
    url,
    cleanup: async () => {
      await db.$disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function testSettings() {
  return {
    session: {
      sessionSecret: 'test-session-secret-0123456789',
      accessTtlSeconds: 600,
      sessionTtlSeconds: 86_400,
      raceGraceSeconds: 10,
    },
    lockout: {
      maxPerAccountAddress: 5,
      maxPerAddress: 8,
      windowMinutes: 15,
      slowdownMaxSeconds: 60,
    },
  };
}
