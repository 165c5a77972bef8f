import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOrigin, type OriginInput } from './origin.ts';

const base: OriginInput = {
  method: 'POST',
  origin: null,
  secFetchSite: null,
  host: 'desk.example:3000',
  forwardedHost: null,
  forwardedProto: null,
};

test('safe methods pass without an Origin', () => {
  assert.equal(checkOrigin({ ...base, method: 'GET' }).ok, true);
  assert.equal(checkOrigin({ ...base, method: 'HEAD' }).ok, true);
});

test('same-origin POST passes, cross-origin POST is refused', () => {
  assert.equal(checkOrigin({ ...base, origin: 'http://desk.example:3000' }).ok, true);
  assert.equal(checkOrigin({ ...base, origin: 'https://desk.example:3000' }).ok, true);
  const bad = checkOrigin({ ...base, origin: 'https://evil.example' });
  assert.equal(bad.ok, false);
  assert.equal(checkOrigin({ ...base, origin: 'http://desk.example:3001' }).ok, false);
  assert.equal(checkOrigin({ ...base, method: 'DELETE', origin: 'http://evil.example' }).ok, false);
});

test('forwarded proto pins the scheme; PORTAL_PUBLIC_URL is accepted', () => {
  assert.equal(
    checkOrigin({ ...base, forwardedProto: 'https', origin: 'http://desk.example:3000' }).ok,
    false,
  );
  assert.equal(
    checkOrigin({ ...base, forwardedProto: 'https', origin: 'https://desk.example:3000' }).ok,
    true,
  );
  assert.equal(
    checkOrigin({
      ...base,
      origin: 'https://vdi.example.org',
      publicUrl: 'https://vdi.example.org/',
    }).ok,
    true,
  );
});

test('no Origin: only Sec-Fetch-Site same-origin is accepted', () => {
  assert.equal(checkOrigin(base).ok, false);
  assert.equal(checkOrigin({ ...base, secFetchSite: 'same-origin' }).ok, true);
  assert.equal(checkOrigin({ ...base, secFetchSite: 'cross-site' }).ok, false);
  assert.equal(checkOrigin({ ...base, origin: 'null' }).ok, false);
});
