import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshSqlite, testSettings } from '../test-db.ts';
import { hashPassword } from './password.ts';
import { signIn, type LoginResult } from './login.ts';
import { clearAccountFailures, lockSummaries, slowdownSeconds } from './lockout.ts';
import type { Db } from '@raydesk/db';

let t: Awaited<ReturnType<typeof freshSqlite>>;
let db: Db;
// 5 per account and address, 8 per address, 15 min window, slowdown up to 60 s.
const s = testSettings();
const EMAILS = [
  'bob@example.com',
  'cat@example.com',
  'dan@example.com',
  'eve@example.com',
  'fay@example.com',
  'gus@example.com',
  'hal@example.com',
  'ida@example.com',
];

before(async () => {
  t = await freshSqlite();
  db = t.db;
  for (const email of EMAILS) {
    await db.user.create({
      data: { email, name: email, passwordHash: await hashPassword('right-password') },
    });
  }
});
after(async () => t.cleanup());

const attempt = (email: string, password: string, address: string, now?: Date) =>
  signIn(db, s, { email, password }, { userAgent: 'test', address }, now);

const failure = (r: LoginResult) => {
  assert.equal(r.ok, false, 'refused');
  return r as Extract<LoginResult, { ok: false }>;
};
const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000);

test('a wrong password is a clear, generic error; unknown accounts look the same', async () => {
  const r = failure(await attempt('bob@example.com', 'nope', '10.0.0.1'));
  assert.equal(r.code, 'invalid_credentials');
  assert.equal(r.status, 401);
  const unknown = failure(await attempt('nobody@example.com', 'nope', '10.0.0.1'));
  assert.deepEqual(unknown, r);
});

test('a disabled account answers exactly as for a wrong password, right password or not', async () => {
  await db.user.update({ where: { email: 'eve@example.com' }, data: { disabled: true } });
  const now = new Date();
  const wrong = failure(await attempt('eve@example.com', 'not-it', '10.9.0.1', now));
  const right = failure(await attempt('eve@example.com', 'right-password', '10.9.0.2', now));
  assert.deepEqual(right, wrong, 'same status, code and message');
  assert.equal(right.status, 401);
  assert.doesNotMatch(right.message, /disabled/i);
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

test('5 failures lock that account from that address only: other addresses and the owner still sign in', async () => {
  const now = new Date();
  // The owner signed in from home before: that address is theirs.
  assert.equal((await attempt('cat@example.com', 'right-password', '192.0.2.10', now)).ok, true);
  for (let i = 0; i < 4; i++) await attempt('cat@example.com', 'wrong', '198.51.100.7', now);
  const fifth = failure(await attempt('cat@example.com', 'wrong', '198.51.100.7', now));
  assert.equal(fifth.code, 'locked');
  assert.equal(fifth.status, 429);
  assert.match(
    fifth.message,
    /Too many failed sign-ins for this account from your network address\. It is locked here for 15 minutes; .*ask an administrator to unlock it/,
  );
  const right = failure(await attempt('cat@example.com', 'right-password', '198.51.100.7', now));
  assert.equal(right.code, 'locked', 'the locked pair is refused even with the right password');
  assert.equal(
    (await attempt('cat@example.com', 'right-password', '192.0.2.10', now)).ok,
    true,
    'the owner at home is not locked out',
  );
  assert.ok(
    (await db.auditEvent.count({
      where: { action: 'login.lockout', actorEmail: 'cat@example.com' },
    })) >= 1,
  );
  const later = at(now, 16 * 60);
  assert.equal(
    (await attempt('cat@example.com', 'right-password', '198.51.100.7', later)).ok,
    true,
  );
});

test('failures from many addresses slow down new places with a growing wait, never the owner', async () => {
  const admin = 'dan@example.com';
  const now = new Date();
  assert.equal((await attempt(admin, 'right-password', '192.0.2.20', now)).ok, true);
  // A distributed guesser: one attempt from each of many addresses, each after the wait it is told.
  let clock = now;
  const waits: number[] = [];
  for (let i = 0; i < 12; i++) {
    const r = failure(await attempt(admin, `guess-${i}`, `203.0.113.${i + 1}`, clock));
    if (r.retryAfterSeconds) waits.push(r.retryAfterSeconds);
    clock = at(clock, r.retryAfterSeconds ?? 0);
  }
  assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60], 'the wait doubles up to the maximum');
  // Too early from yet another address: refused before the password is even checked.
  const early = failure(await attempt(admin, 'right-password', '203.0.113.200', at(clock, -1)));
  assert.equal(early.code, 'locked');
  assert.equal(early.status, 429);
  assert.match(early.message, /sign-ins from new places are slowed down\. Try again in 1 second\./);
  const failuresBefore = await db.loginFailure.count({ where: { email: admin } });
  assert.equal(failuresBefore, 12, 'a throttled attempt is not a failure');
  // The owner's own address is never slowed down or locked by the strangers.
  assert.equal((await attempt(admin, 'right-password', '192.0.2.20', at(clock, -1))).ok, true);
  // A new place with the right password gets in once it waited.
  assert.equal((await attempt(admin, 'right-password', '203.0.113.200', clock)).ok, true);
});

test('one address locks after 8 failures across accounts; other addresses are unaffected', async () => {
  const now = new Date();
  const emails = ['a1@example.com', 'a2@example.com', 'a3@example.com', 'a4@example.com'];
  let last;
  for (let i = 0; i < 8; i++) last = await attempt(emails[i % 4]!, 'wrong', '192.0.2.77', now);
  assert.equal(last && !last.ok && last.code, 'locked');
  assert.match(last && !last.ok ? last.message : '', /from your network address\. Try again in/);
  const fay = failure(await attempt('fay@example.com', 'right-password', '192.0.2.77', now));
  assert.equal(fay.code, 'locked', 'even a correct password from that address waits');
  assert.equal((await attempt('fay@example.com', 'right-password', '192.0.2.78', now)).ok, true);
});

test("a successful sign-in clears that address's failures, not the strangers'", async () => {
  const now = new Date();
  for (let i = 0; i < 2; i++) await attempt('hal@example.com', 'wrong', '10.2.0.1', now);
  await attempt('hal@example.com', 'wrong', '10.2.0.99', now);
  assert.equal((await attempt('hal@example.com', 'right-password', '10.2.0.1', now)).ok, true);
  assert.equal(
    await db.loginFailure.count({ where: { email: 'hal@example.com', address: '10.2.0.1' } }),
    0,
  );
  assert.equal(
    await db.loginFailure.count({ where: { email: 'hal@example.com', address: '10.2.0.99' } }),
    1,
  );
  const known = await db.knownAddress.findMany({
    where: { user: { email: 'hal@example.com' } },
  });
  assert.deepEqual(
    known.map((k) => k.address),
    ['10.2.0.1'],
  );
});

test('unlock clears every lock on the account; the summary counts failures and locked addresses', async () => {
  const now = new Date();
  for (let i = 0; i < 5; i++) await attempt('gus@example.com', 'wrong', '198.51.100.30', now);
  // Five failures from strangers: the next new place waits a second first.
  await attempt('gus@example.com', 'wrong', '198.51.100.31', at(now, 1));
  const summary = (await lockSummaries(db, s.lockout, at(now, 1))).get('gus@example.com');
  assert.deepEqual(summary, { failures: 6, lockedAddresses: 1 });
  assert.equal(
    failure(await attempt('gus@example.com', 'right-password', '198.51.100.30', now)).code,
    'locked',
  );
  assert.equal(await clearAccountFailures(db, 'gus@example.com'), 6);
  assert.equal(
    (await attempt('gus@example.com', 'right-password', '198.51.100.30', at(now, 1))).ok,
    true,
    'unlocked',
  );
  assert.equal((await lockSummaries(db, s.lockout, now)).get('gus@example.com'), undefined);
});

test('slowdownSeconds: nothing below the threshold, then 1, 2, 4 ... up to the maximum', () => {
  const waits = [0, 4, 5, 6, 7, 10, 11, 50, 10_000].map((n) => slowdownSeconds(s.lockout, n));
  assert.deepEqual(waits, [0, 0, 1, 2, 4, 32, 60, 60, 60]);
});
