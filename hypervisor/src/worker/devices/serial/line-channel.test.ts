import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineChannel } from './line-channel.ts';

const enc = new TextEncoder();

test('splits bytes into lines, strips CR, decodes UTF-8 across chunks', () => {
  const ch = new LineChannel(() => {});
  const lines: string[] = [];
  ch.onLine((l) => lines.push(l));
  const bytes = enc.encode('one\r\ntwo\n\nthré');
  ch.receive(bytes.subarray(0, 5));
  ch.receive(bytes.subarray(5, bytes.length - 1));
  assert.deepEqual(lines, ['one', 'two', '']);
  ch.receive(bytes.subarray(bytes.length - 1));
  ch.receiveByte(0x0a);
  assert.deepEqual(lines, ['one', 'two', '', 'thré']);
});

test('sendLine appends a newline and refuses embedded newlines', () => {
  const sent: string[] = [];
  const ch = new LineChannel((b) => sent.push(new TextDecoder().decode(b)));
  ch.sendLine('1 ping');
  assert.deepEqual(sent, ['1 ping\n']);
  assert.throws(() => ch.sendLine('a\nb'));
});

test('overlong lines are cut', () => {
  const ch = new LineChannel(() => {}, { maxLineBytes: 4 });
  const lines: string[] = [];
  ch.onLine((l) => lines.push(l));
  ch.receive(enc.encode('abcdefgh\nxy\n'));
  assert.deepEqual(lines, ['abcd', 'xy']);
});
