import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshSqlite, testSettings } from '../test-db.ts';
import { hashPassword } from './password.ts';
import { signIn, type SessionStarted } from './login.ts';
import { activeSessionUser, revokeSession, rotateRefreshToken } from './sessions.ts';
import { verifyAccessToken } from './tokens.ts';
import type { Db } from '@raydesk/db';

let t: Awaited<ReturnType<typeof freshSqlite>>;
let db: Db;
const s = testSettings();
const meta = { userAgent: 'test', address: '10.0.0.1' };

before(async () => {
  t = await freshSqlite();
  db = t.db;
  await db.user.create({
    data: {
      email: 'ann@example.com',
      name: 'Ann',
      passwordHash: await hashPassword('ann-password-1'),
    },
  });
});
after(async () => t.cleanup());

async function login() {
  const r = await signIn(db, s, { email: 'ann@example.com', password: 'ann-password-1' }, meta);
  assert.equal(r.ok, true, 'login succeeds');
  return r as SessionStarted;
}

test('sign-in issues an access JWT and a hashed refresh token', async () => {
  const r = await login();
  const claims = await verifyAccessToken(s.session.sessionSecret, r.accessToken);
  assert.equal(claims?.sid, r.sessionId);
  assert.equal(claims?.role, 'user');
  const rows = await db.refreshToken.findMany({ where: { sessionId: r.sessionId } });
  assert.equal(rows.length, 1);
  assert.notEqual(rows[0]!.tokenHash, r.refreshToken, 'only the hash is stored');
});

test('refresh rotates: the new token works, the session stays active', async () => {
  const r = await login();
  const t1 = new Date();
  const next = await rotateRefreshToken(db, s.session, r.refreshToken, meta, t1);
  assert.ok(next.ok);
  assert.notEqual(next.refreshToken, r.refreshToken);
  const again = await rotateRefreshToken(
    db,
    s.session,
    next.refreshToken,
    meta,
    new Date(t1.getTime() + 1000),
  );
  assert.ok(again.ok);
  assert.ok(await activeSessionUser(db, r.sessionId, r.user.id));
});

test('reuse of a rotated refresh token revokes the whole family', async () => {
  const r = await login();
  const t0 = Date.now();
  const second = await rotateRefreshToken(db, s.session, r.refreshToken, meta, new Date(t0));
  assert.ok(second.ok);
  // Within the race grace the old token is refused without punishment...
  const race = await rotateRefreshToken(db, s.session, r.refreshToken, meta, new Date(t0 + 2000));
  assert.deepEqual(race, { ok: false, reason: 'race' });
  assert.ok(await activeSessionUser(db, r.sessionId, r.user.id));
  // ...after it, presenting the old token is reuse: the family dies, including the newest token.
  const reuse = await rotateRefreshToken(
    db,
    s.session,
    r.refreshToken,
    meta,
    new Date(t0 + 60_000),
  );
  assert.deepEqual(reuse, { ok: false, reason: 'reuse' });
  assert.equal(await activeSessionUser(db, r.sessionId, r.user.id), null);
  const successor = await rotateRefreshToken(
    db,
    s.session,
    second.refreshToken,
    meta,
    new Date(t0 + 61_000),
  );
  assert.equal(successor.ok, false);
  const session = await db.loginSession.findUniqueOrThrow({ where: { id: r.sessionId } });
  assert.equal(session.revokeReason, 'reuse');
  assert.equal(
    await db.auditEvent.count({ where: { action: 'auth.refresh-reuse', targetId: r.sessionId } }),
    1,
  );
});

test('logout revokes: refresh fails and the access token no longer maps to a session', async () => {
  const r = await login();
  await revokeSession(db, r.sessionId, 'logout');
  assert.deepEqual(await rotateRefreshToken(db, s.session, r.refreshToken, meta), {
    ok: false,
    reason: 'revoked',
  });
  assert.equal(await activeSessionUser(db, r.sessionId, r.user.id), null);
});

test('unknown and expired refresh tokens are refused', async () => {
  assert.deepEqual(await rotateRefreshToken(db, s.session, 'nope', meta), {
    ok: false,
    reason: 'unknown',
  });
  assert.deepEqual(await rotateRefreshToken(db, s.session, undefined, meta), {
    ok: false,
    reason: 'unknown',
  });
  const r = await login();
  const later = new Date(Date.now() + (s.session.sessionTtlSeconds + 10) * 1000);
  assert.deepEqual(await rotateRefreshToken(db, s.session, r.refreshToken, meta, later), {
    ok: false,
    reason: 'expired',
  });
});

test('disabling a user ends refreshes', async () => {
  const r = await login();
  await db.user.update({ where: { id: r.user.id }, data: { disabled: true } });
  assert.deepEqual(await rotateRefreshToken(db, s.session, r.refreshToken, meta), {
    ok: false,
    reason: 'disabled',
  });
  const denied = await signIn(
    db,
    s,
    { email: 'ann@example.com', password: 'ann-password-1' },
    meta,
  );
  assert.equal(denied.ok, false);
  // Answered as a wrong password would be: no oracle on disabled accounts.
  assert.equal(!denied.ok && denied.code, 'invalid_credentials');
  await db.user.update({ where: { id: r.user.id }, data: { disabled: false } });
});
