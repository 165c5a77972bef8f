// The SQLite schema is the source; the PostgreSQL schema and both migration folders must follow it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '@raydesk/common/node';
import { expectedPostgresSchema, SOURCE, TARGET } from './sync-schema.ts';

test('prisma/postgres/schema.prisma is generated from prisma/schema.prisma and in step', () => {
  assert.equal(
    readFileSync(TARGET, 'utf8'),
    expectedPostgresSchema(),
    'run: npx tsx prisma/sync-schema.ts',
  );
});

test('both providers have the same migrations, and the last one matches the current model', () => {
  const list = (dir: string) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  const sqlite = list(join(REPO_ROOT, 'prisma', 'migrations'));
  const postgres = list(join(REPO_ROOT, 'prisma', 'postgres', 'migrations'));
  assert.ok(sqlite.length > 0);
  assert.deepEqual(
    postgres,
    sqlite,
    'create migrations with: npx tsx prisma/new-migration.ts <name>',
  );
  for (const m of sqlite) {
    assert.ok(existsSync(join(REPO_ROOT, 'prisma', 'migrations', m, 'migration.sql')));
    assert.ok(existsSync(join(REPO_ROOT, 'prisma', 'postgres', 'migrations', m, 'migration.sql')));
  }
  const snapshot = readFileSync(join(REPO_ROOT, 'prisma', 'migrations-snapshot.prisma'), 'utf8');
  assert.equal(
    snapshot,
    readFileSync(SOURCE, 'utf8'),
    'schema.prisma changed without a migration: npx tsx prisma/new-migration.ts <name>',
  );
});
