import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseListenArgument } from './listen.ts';

test('listen addresses: a port, an IPv4 or bracketed IPv6 address with a port', () => {
  assert.deepEqual(parseListenArgument('5901'), { ok: true, value: { port: 5901 } });
  assert.deepEqual(parseListenArgument('127.0.0.1:0'), {
    ok: true,
    value: { host: '127.0.0.1', port: 0 },
  });
  assert.deepEqual(parseListenArgument('[::1]:5901'), {
    ok: true,
    value: { host: '::1', port: 5901 },
  });
});

test('host names, bad ports and junk are refused with a reason', () => {
  for (const bad of ['localhost:80', '127.0.0.1:65536', '::1:80', '1.2.3:4', ':80', 'x', '']) {
    const parsed = parseListenArgument(bad);
    assert.equal(parsed.ok, false, bad);
    assert.ok(!parsed.ok && parsed.error.length > 5);
  }
});
