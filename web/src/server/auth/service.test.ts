import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { resetConfig } from '../config.ts';
import { hasServiceBearer } from './service.ts';

before(() => {
  process.env.SESSION_SECRET = 'service-test-session-secret-0123456789';
  process.env.ATTACH_TOKEN_SECRET = 'service-test-attach-secret-0123456789';
  process.env.GATEWAY_SECRET = 'service-test-gateway-secret';
  resetConfig();
});

test('only the exact service secret as a bearer token passes', () => {
  const h = (authorization?: string) =>
    hasServiceBearer(new Headers(authorization ? { authorization } : {}));
  assert.equal(h('Bearer service-test-gateway-secret'), true);
  assert.equal(h('bearer service-test-gateway-secret'), true, 'the scheme is case-insensitive');
  assert.equal(h(), false);
  assert.equal(h('Bearer '), false);
  assert.equal(h('Bearer service-test-gateway-secre'), false);
  assert.equal(h('Bearer service-test-gateway-secretX'), false);
  assert.equal(h('Basic service-test-gateway-secret'), false);
  assert.equal(h('service-test-gateway-secret'), false);
});
