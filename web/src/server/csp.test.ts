import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentSecurityPolicy, gatewaySources, newNonce, nonceOf } from './csp.ts';

function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(';').map((part) => {
      const [name, ...values] = part.trim().split(/\s+/);
      return [name!, values];
    }),
  );
}

test('scripts need the nonce; nothing else runs, frames and plugins are off', () => {
  const nonce = newNonce();
  const d = directives(contentSecurityPolicy({ nonce }));
  assert.deepEqual(d.get('script-src'), ["'self'", `'nonce-${nonce}'`, "'strict-dynamic'"]);
  for (const values of d.values()) {
    assert.ok(!values.includes("'unsafe-eval'"));
  }
  assert.ok(!d.get('script-src')!.includes("'unsafe-inline'"));
  assert.ok(!d.get('style-src')!.includes("'unsafe-inline'"), 'style elements need the nonce');
  assert.deepEqual(d.get('style-src-attr'), ["'unsafe-inline'"]);
  assert.deepEqual(d.get('img-src'), ["'self'", 'data:', 'blob:']);
  assert.deepEqual(d.get('connect-src'), ["'self'"]);
  assert.deepEqual(d.get('frame-ancestors'), ["'none'"]);
  assert.deepEqual(d.get('object-src'), ["'none'"]);
  assert.deepEqual(d.get('base-uri'), ["'self'"]);
  assert.deepEqual(d.get('form-action'), ["'self'"]);
  assert.deepEqual(d.get('default-src'), ["'self'"]);
});

test('a directly reached gateway is allowed for its own scheme pair only', () => {
  const nonce = newNonce();
  const connect = (url: string) =>
    directives(contentSecurityPolicy({ nonce, gatewayPublicUrl: url })).get('connect-src');
  assert.deepEqual(connect('https://gw.example.org'), [
    "'self'",
    'https://gw.example.org',
    'wss://gw.example.org',
  ]);
  assert.deepEqual(connect('http://10.0.0.5:7421/prefix/'), [
    "'self'",
    'http://10.0.0.5:7421',
    'ws://10.0.0.5:7421',
  ]);
  assert.deepEqual(connect('wss://gw.example.org:8443'), [
    "'self'",
    'https://gw.example.org:8443',
    'wss://gw.example.org:8443',
  ]);
  assert.deepEqual(gatewaySources('javascript:alert(1)'), []);
  assert.deepEqual(gatewaySources('not a url'), []);
  assert.deepEqual(gatewaySources(undefined), []);
});

test('nonces are fresh, long and cannot break out of the header', () => {
  const seen = new Set(Array.from({ length: 200 }, newNonce));
  assert.equal(seen.size, 200);
  for (const nonce of seen) assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
  assert.throws(() => contentSecurityPolicy({ nonce: "x'; script-src *" }), /nonce/);
  assert.throws(() => contentSecurityPolicy({ nonce: 'short' }), /nonce/);
});

test("a page's own scripts find the nonce in the request's policy", () => {
  for (let i = 0; i < 20; i++) {
    const nonce = newNonce();
    assert.equal(nonceOf(contentSecurityPolicy({ nonce })), nonce);
  }
  assert.equal(nonceOf(null), undefined);
  assert.equal(nonceOf("default-src 'self'"), undefined);
});
