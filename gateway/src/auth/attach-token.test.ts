import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT, base64url } from 'jose';
import { ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS } from '../protocol/internal.ts';
import { DEFAULT_SESSION_POLICY } from '../protocol/policy.ts';
import {
  AttachTokenError,
  ReplayCache,
  mintAttachToken,
  verifyAttachToken,
} from './attach-token.ts';

const SECRET = 'test-attach-secret-0123456789abcdef';
const key = new TextEncoder().encode(SECRET);
const grant = { sub: 'u1', vm: 'vm-1', mode: 'control', name: 'Ada', role: 'user' } as const;

async function rejects(token: string, reason?: string, cache?: ReplayCache) {
  await assert.rejects(verifyAttachToken(SECRET, token, { replayCache: cache }), (e: unknown) => {
    assert.ok(e instanceof AttachTokenError, String(e));
    if (reason) assert.equal(e.reason, reason, e.message);
    return true;
  });
}

function signed(claims: Record<string, unknown>, alg = 'HS256', exp: string | number = '2m') {
  return new SignJWT(claims)
    .setProtectedHeader({ alg })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
}

test('a minted token verifies and carries the grant', async () => {
  const token = await mintAttachToken(SECRET, grant);
  const claims = await verifyAttachToken(SECRET, token);
  assert.equal(claims.vm, 'vm-1');
  assert.equal(claims.mode, 'control');
  assert.equal(claims.sub, 'u1');
  assert.ok(claims.jti.length >= 8);
});

test('a token carries the session policy and email, and refuses a malformed policy', async () => {
  const policy = { ...DEFAULT_SESSION_POLICY, clipboardToVm: false, watermark: true };
  const token = await mintAttachToken(SECRET, { ...grant, policy, email: 'ada@example.test' });
  const claims = await verifyAttachToken(SECRET, token);
  assert.deepEqual(claims.policy, policy);
  assert.equal(claims.email, 'ada@example.test');
  const bad = await signed({ ...base, policy: { ...policy, clipboardToVm: 'yes' } });
  await rejects(bad, 'claims');
});

const base = {
  iss: 'raydesk-portal',
  aud: 'raydesk-gateway',
  sub: 'u1',
  jti: 'jti-12345678',
  vm: 'vm-1',
  mode: 'control',
  name: 'Ada',
  role: 'user',
};

test('wrong secret is rejected', async () => {
  const token = await mintAttachToken('another-secret-of-enough-length', grant);
  await rejects(token, 'invalid');
});

test('alg none and other algorithms are rejected', async () => {
  await rejects(new UnsecuredJWT(base).setExpirationTime('2m').encode(), 'invalid');
  await rejects(await signed(base, 'HS512'), 'invalid');
  await rejects(await signed(base, 'HS384'), 'invalid');
  // header says HS256 but signature is garbage
  const good = await signed(base);
  const [h, p] = good.split('.');
  await rejects(`${h}.${p}.${base64url.encode(new Uint8Array(32))}`, 'invalid');
});

test('expired, wrong iss and wrong aud are rejected', async () => {
  await rejects(await signed(base, 'HS256', Math.floor(Date.now() / 1000) - 60), 'expired');
  await rejects(await signed({ ...base, iss: 'someone-else' }), 'invalid');
  await rejects(await signed({ ...base, aud: 'raydesk-hypervisor' }), 'invalid');
  const noExp = await new SignJWT(base).setProtectedHeader({ alg: 'HS256' }).sign(key);
  await rejects(noExp, 'invalid');
});

test('bad claims are rejected', async () => {
  await rejects(await signed({ ...base, mode: 'root' }), 'claims');
  await rejects(await signed({ ...base, vm: '../etc/passwd' }), 'claims');
  await rejects(await signed({ ...base, role: 'superuser' }), 'claims');
  await rejects(await signed({ ...base, name: '' }), 'claims');
  const without = (key: keyof typeof base) =>
    Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));
  await rejects(await signed(without('vm')), 'claims');
  await rejects(await signed(without('jti')), 'invalid');
  await rejects(await signed(base, 'HS256', '2h'), 'lifetime');
});

test('garbage strings are rejected', async () => {
  for (const t of ['', 'x', 'a.b.c', '....', 'eyJhbGciOiJIUzI1NiJ9.e30.', '\u0000'.repeat(50)]) {
    await rejects(t);
  }
});

test('a token attaches once when a replay cache is used', async () => {
  const cache = new ReplayCache();
  const token = await mintAttachToken(SECRET, grant);
  await verifyAttachToken(SECRET, token, { replayCache: cache });
  await rejects(token, 'replayed', cache);
});

test('a used token stays refused until its exp plus the clock tolerance, the whole time it verifies', async () => {
  const cache = new ReplayCache();
  const now = Math.floor(Date.now() / 1000);
  // Expired 3 s ago: still inside the tolerance, so it verifies, and it must attach only once.
  const late = await new SignJWT({ ...base, jti: 'jti-late-0001' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now - 60)
    .setExpirationTime(now - 3)
    .sign(key);
  await verifyAttachToken(SECRET, late, { replayCache: cache });
  await rejects(late, 'replayed', cache);
  assert.ok(ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS > 3);
});

test('ReplayCache keeps a jti until exp + tolerance and prunes it after', () => {
  const cache = new ReplayCache();
  const exp = 1_000_000;
  assert.equal(cache.claim('jti-a', exp, exp - 100), true);
  assert.equal(cache.claim('jti-a', exp, exp), false);
  assert.equal(cache.claim('jti-a', exp, exp + ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS), false);
  cache.prune(exp + ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS);
  assert.equal(cache.size, 1, 'kept through the last second a token can verify');
  cache.prune(exp + ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS + 1);
  assert.equal(cache.size, 0, 'gone once no token with that jti can verify');
});

test('a full ReplayCache refuses new jtis instead of growing', () => {
  const cache = new ReplayCache(2);
  const exp = 2_000_000;
  assert.equal(cache.claim('jti-1', exp, exp - 10), true);
  assert.equal(cache.claim('jti-2', exp, exp - 10), true);
  assert.equal(cache.claim('jti-3', exp, exp - 10), false);
  assert.equal(cache.size, 2);
});
