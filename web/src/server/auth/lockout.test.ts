import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshSqlite, testSettings } from '../test-db.ts';
import { hashPassword } from './password.ts';
import { signIn } from './login.ts';
import type { Db } from '../../../../prisma/client.ts';

let t: Awaited<ReturnType<typeof freshSqlite>>;
let db: Db;
const s = testSettings(); // 5 per account, 8 per address, 15 min window

before(async () => {
  t = await freshSqlite();
  db = t.db;
  for (const email of [
    'bob@example.com',
    'cat@example.com',
    'dan@example.com',
    'eve@example.com',
  ]) {
    await db.user.create({
      data: { email, name: email, passwordHash: await hashPassword('right-password') },
    });
  }
});
after(async () => t.cleanup());

const attempt = (email: string, password: string, address: string, now?: Date) =>
  signIn(db, s, { email, password }, { userAgent: 'test', address }, now);

test('a wrong password is a clear, generic error', async () => {
  const r = await attempt('bob@example.com', 'nope', '10.0.0.1');
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, 'invalid_credentials');
  assert.equal(!r.ok && r.status, 401);
  const unknown = await attempt('nobody@example.com', 'nope', '10.0.0.1');
  assert.equal(
    !unknown.ok && unknown.message,
    !r.ok && r.message,
    'unknown accounts look the same',
  );
});

test('a disabled account answers exactly as for a wrong password, right password or not', async () => {
  await db.user.update({ where: { email: 'eve@example.com' }, data: { disabled: true } });
  const now = new Date();
  const wrong = await attempt('eve@example.com', 'not-it', '10.9.0.1', now);
  const right = await attempt('eve@example.com', 'right-password', '10.9.0.2', now);
  assert.equal(right.ok, false);
  assert.deepEqual(right, wrong, 'same status, code and message');
  assert.equal(!right.ok && right.status, 401);
  // Both are recorded as failures, so both count towards the lockout the same way.
  assert.equal(await db.loginFailure.count({ where: { email: 'eve@example.com' } }), 2);
  const audited = await db.auditEvent.findMany({
    where: { action: 'login.failure', actorEmail: 'eve@example.com' },
    orderBy: { at: 'asc' },
  });
  assert.deepEqual(
    audited.map((a) => JSON.parse(a.details).reason),
    ['wrong-password', 'disabled'],
    'the admins-only audit log keeps the real reason',
  );
});

test('the account locks after 5 failures, even with the right password, and unlocks after the window', async () => {
  const now = new Date();
  for (let i = 0; i < 4; i++) await attempt('cat@example.com', 'wrong', `10.1.0.${i}`, now);
  const fifth = await attempt('cat@example.com', 'wrong', '10.1.0.9', now);
  assert.equal(!fifth.ok && fifth.code, 'locked');
  assert.equal(!fifth.ok && fifth.status, 429);
  assert.match(
    !fifth.ok ? fifth.message : '',
    /Too many failed sign-ins for this account\. It is locked for 15 minutes/,
  );
  const right = await attempt('cat@example.com', 'right-password', '10.1.0.10', now);
  assert.equal(!right.ok && right.code, 'locked');
  assert.ok(
    (await db.auditEvent.count({
      where: { action: 'login.lockout', actorEmail: 'cat@example.com' },
    })) >= 1,
  );
  const later = new Date(now.getTime() + 16 * 60_000);
  const afterWindow = await attempt('cat@example.com', 'right-password', '10.1.0.10', later);
  assert.equal(afterWindow.ok, true);
});

test('one address locks after 8 failures across accounts', async () => {
  const now = new Date();
  const emails = ['a1@example.com', 'a2@example.com', 'a3@example.com', 'a4@example.com'];
  let last;
  for (let i = 0; i < 8; i++) last = await attempt(emails[i % 4]!, 'wrong', '192.0.2.77', now);
  assert.equal(last && !last.ok && last.code, 'locked');
  assert.match(last && !last.ok ? last.message : '', /from your network address/);
  const dan = await attempt('dan@example.com', 'right-password', '192.0.2.77', now);
  assert.equal(!dan.ok && dan.code, 'locked', 'even a correct password from that address waits');
  const elsewhere = await attempt('dan@example.com', 'right-password', '192.0.2.78', now);
  assert.equal(elsewhere.ok, true, 'other addresses are unaffected');
});

test('a successful sign-in clears the account failures', async () => {
  const now = new Date();
  for (let i = 0; i < 3; i++) await attempt('bob@example.com', 'wrong', '10.2.0.1', now); // plus 1 from the first test
  assert.equal((await attempt('bob@example.com', 'right-password', '10.2.0.1', now)).ok, true);
  const r = await attempt('bob@example.com', 'wrong', '10.2.0.2', now);
  assert.equal(!r.ok && r.code, 'invalid_credentials');
});
