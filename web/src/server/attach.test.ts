import assert from 'node:assert/strict';
import { test } from 'node:test';

process.env.SESSION_SECRET ??= 'test-session-secret-0123456789';
process.env.GATEWAY_SECRET ??= 'test-gateway-secret';
const ATTACH_SECRET = 'test-attach-secret-0123456789abcdef';
process.env.ATTACH_TOKEN_SECRET = ATTACH_SECRET;

test('attach tokens carry the gateway contract and verify with the gateway helper', async () => {
  const { issueAttachToken, attachMeta } = await import('./attach.ts');
  const { verifyAttachToken } = await import('@raydesk/gateway/attach-token');
  const { decodeProtectedHeader } = await import('jose');
  const { DEFAULT_SESSION_POLICY } = await import('@raydesk/gateway/protocol');
  const policy = { ...DEFAULT_SESSION_POLICY, clipboardFromVm: false, idleTimeoutMinutes: 15 };
  const issued = await issueAttachToken(
    {
      userId: 'user-1',
      domainId: 'desk-abc123',
      mode: 'control',
      name: 'Ann',
      role: 'user',
      policy,
      email: 'ann@example.test',
    },
    { userAgent: 'UA', address: '10.0.0.1' },
  );
  assert.equal(decodeProtectedHeader(issued.token).alg, 'HS256');
  const claims = await verifyAttachToken(ATTACH_SECRET, issued.token);
  assert.equal(claims.iss, 'raydesk-portal');
  assert.equal(claims.aud, 'raydesk-gateway');
  assert.equal(claims.sub, 'user-1');
  assert.equal(claims.vm, 'desk-abc123');
  assert.equal(claims.mode, 'control');
  assert.equal(claims.role, 'user');
  assert.equal(claims.jti, issued.jti);
  assert.deepEqual(claims.policy, policy, 'the policy the gateway enforces');
  assert.equal(claims.email, 'ann@example.test');
  assert.ok(claims.exp - Math.floor(Date.now() / 1000) <= 125, 'lives about two minutes');
  await assert.rejects(verifyAttachToken('another-secret-xxxxxxxxxxxxxxx', issued.token));
  assert.equal(attachMeta('user-1', 'desk-abc123', 'control')?.userAgent, 'UA');
});
