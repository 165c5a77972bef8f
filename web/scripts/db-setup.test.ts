// db-setup as `npm start` runs it, on a throwaway data directory: the SQLite file and the data
// directory are owner-only (also when an older version left them world-readable), the admin is
// created once, and neither run prints the admin's password.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@raydesk/common/node';
import { createDb } from '@raydesk/db';
import { verifyPassword } from '../src/server/auth/password.ts';

const root = mkdtempSync(join(tmpdir(), 'raydesk-db-setup-'));
after(() => rmSync(root, { recursive: true, force: true }));
const data = join(root, 'data');
const db = join(data, 'raydesk.db');
const PASSWORD = 'first-admin-password-123';
const mode = (path: string) => statSync(path).mode & 0o777;

async function setup(args: string[], password = PASSWORD) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RAYDESK_DATA_DIR: data,
    ADMIN_EMAIL: 'root@db-setup.test',
    ADMIN_PASSWORD: password,
  };
  delete env.DATABASE_URL;
  return promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'web/scripts/db-setup.ts', ...args],
    { cwd: REPO_ROOT, env },
  );
}

test('first run: owner-only files, the admin is created, the password is not printed', async () => {
  const first = await setup(['--json']);
  assert.deepEqual(JSON.parse(first.stdout.trim()), { adminCreated: 'root@db-setup.test' });
  assert.doesNotMatch(first.stdout + first.stderr, new RegExp(PASSWORD));
  assert.equal(mode(data), 0o700);
  assert.equal(mode(db), 0o600);
});

test('later runs create nothing and fix modes an older version left behind', async () => {
  chmodSync(data, 0o755);
  chmodSync(db, 0o644);
  const again = await setup(['--json']);
  assert.deepEqual(JSON.parse(again.stdout.trim()), { adminCreated: null });
  assert.doesNotMatch(again.stdout + again.stderr, new RegExp(PASSWORD));
  assert.equal(mode(data), 0o700);
  assert.equal(mode(db), 0o600);
});

test('--reset-admin-password sets the password from .env again', async () => {
  const fresh = 'second-admin-password-456';
  const reset = await setup(['--reset-admin-password'], fresh);
  assert.match(reset.stderr, /is now ADMIN_PASSWORD from \.env/);
  assert.doesNotMatch(reset.stdout + reset.stderr, new RegExp(fresh));
  const client = createDb(`file:${db}`);
  try {
    const admin = await client.user.findUniqueOrThrow({ where: { email: 'root@db-setup.test' } });
    assert.equal(await verifyPassword(admin.passwordHash, fresh), true);
    assert.equal(await verifyPassword(admin.passwordHash, PASSWORD), false);
  } finally {
    await client.$disconnect();
  }
  assert.equal(mode(db), 0o600);
});
