import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserOrigin, redirectToPath } from './http.ts';

const headers = (h: Record<string, string>) => new Headers(h);

test('redirects go to the host and scheme the browser used', () => {
  const res = redirectToPath(
    { headers: headers({ host: 'vdi.example.test:3000' }) },
    '/login?next=%2F',
  );
  assert.equal(res.status, 307);
  assert.equal(res.headers.get('location'), 'http://vdi.example.test:3000/login?next=%2F');
  const tls = headers({ host: 'desk.example.org', 'x-forwarded-proto': 'https' });
  assert.equal(browserOrigin(tls), 'https://desk.example.org');
  assert.equal(browserOrigin(headers({ host: '[::1]:3000' })), 'http://[::1]:3000');
  // server.mjs passes X-Forwarded-Host through only with TRUST_PROXY; when present it wins.
  const proxied = headers({ host: '127.0.0.1:3000', 'x-forwarded-host': 'desk.example.org' });
  assert.equal(browserOrigin(proxied), 'http://desk.example.org');
});

test('an unusable Host gives a relative redirect; only portal paths are accepted', () => {
  for (const host of ['', 'evil.example/x', 'a b', 'evil.example@x', 'x:99999999']) {
    const res = redirectToPath({ headers: headers(host ? { host } : {}) }, '/');
    assert.equal(res.headers.get('location'), '/', JSON.stringify(host));
  }
  for (const path of ['//evil.example', '/\\evil.example', 'https://evil.example', 'x'])
    assert.throws(() => redirectToPath({ headers: headers({ host: 'a' }) }, path));
});
