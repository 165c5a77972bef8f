import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewerAddress } from './server.ts';

test("behind the portal's proxy on this machine, the viewer's address is the forwarded one", () => {
  assert.equal(viewerAddress('127.0.0.1', '192.0.2.44'), '192.0.2.44');
  assert.equal(viewerAddress('::ffff:127.0.0.1', '203.0.113.9'), '203.0.113.9');
  assert.equal(viewerAddress('::1', '198.51.100.1, 192.0.2.44'), '192.0.2.44');
  assert.equal(viewerAddress('127.0.0.1', undefined), '127.0.0.1');
  assert.equal(viewerAddress('127.0.0.1', ' , '), '127.0.0.1');
});

test('a browser reaching the gateway directly cannot choose its address', () => {
  assert.equal(viewerAddress('192.0.2.44', '10.9.9.9'), '192.0.2.44');
  assert.equal(viewerAddress('::ffff:192.0.2.44', '127.0.0.1'), '::ffff:192.0.2.44');
  assert.equal(viewerAddress(undefined, '10.9.9.9'), '');
});
