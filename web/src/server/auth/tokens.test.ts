import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { hashToken, newRefreshToken, signAccessToken, verifyAccessToken } from './tokens.ts';
import { hashPassword, verifyPassword } from './password.ts';

const SECRET = 'test-session-secret-0123456789';
const claims = { sub: 'u1', sid: 's1', role: 'user' as const, name: 'Ann' };

test('access tokens round-trip and expire', async () => {
  const now = Date.now();
  const token = await signAccessToken(SECRET, claims, 600, now);
  assert.deepEqual(await verifyAccessToken(SECRET, token, now), claims);
  assert.equal(await verifyAccessToken(SECRET, token, now + 601_000), null, 'expired');
  assert.equal(await verifyAccessToken('another-secret-0123456789', token, now), null, 'wrong key');
  assert.equal(await verifyAccessToken(SECRET, undefined), null);
  assert.equal(await verifyAccessToken(SECRET, 'garbage'), null);
});

test('alg none, other audiences and bad roles are refused', async () => {
  const none = new UnsecuredJWT({ sid: 's1', role: 'admin' })
    .setSubject('u1')
    .setIssuer('raydesk-portal')
    .setAudience('raydesk-portal-session')
    .setExpirationTime('5m')
    .encode();
  assert.equal(await verifyAccessToken(SECRET, none), null);
  const key = new TextEncoder().encode(SECRET);
  const otherAud = await new SignJWT({ sid: 's1', role: 'admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setIssuer('raydesk-portal')
    .setAudience('raydesk-gateway')
    .setExpirationTime('5m')
    .sign(key);
  assert.equal(await verifyAccessToken(SECRET, otherAud), null);
  const badRole = await new SignJWT({ sid: 's1', role: 'root' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setIssuer('raydesk-portal')
    .setAudience('raydesk-portal-session')
    .setExpirationTime('5m')
    .sign(key);
  assert.equal(await verifyAccessToken(SECRET, badRole), null);
});

test('refresh tokens are random and stored only as hashes', () => {
  const a = newRefreshToken();
  const b = newRefreshToken();
  assert.notEqual(a, b);
  assert.ok(a.length >= 43);
  assert.equal(hashToken(a), hashToken(a));
  assert.notEqual(hashToken(a), a);
});

test('passwords are hashed with argon2id and verified', async () => {
  const hashed = await hashPassword('correct horse battery');
  assert.match(hashed, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(await verifyPassword(hashed, 'correct horse battery'), true);
  assert.equal(await verifyPassword(hashed, 'wrong'), false);
  assert.equal(await verifyPassword('not-a-hash', 'x'), false);
});
