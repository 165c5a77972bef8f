import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transferFileNameSchema } from '../api/transfer.ts';
import { parseOutboxList } from './guest-transfer.ts';

const b64 = (name: string) => Buffer.from(name, 'utf8').toString('base64');

test('the outbox list decodes names, keeps sizes and drops names that are not acceptable', () => {
  const payload = [
    `${b64('report é.pdf')}:1200`,
    `${b64('../escape')}:5`,
    `${b64('a.txt')}:0`,
    'garbage',
    `${b64('tab\there')}:3`,
  ].join(' ');
  assert.deepEqual(parseOutboxList(payload), [
    { name: 'a.txt', bytes: 0 },
    { name: 'report é.pdf', bytes: 1200 },
  ]);
  assert.deepEqual(parseOutboxList(''), []);
});

test('file names: one segment, no separators, dots, control characters or reserved prefix', () => {
  for (const good of ['notes.txt', 'Grüße 日本.pdf', '.hidden', 'a..b', 'x'.repeat(255)]) {
    assert.ok(transferFileNameSchema.safeParse(good).success, good);
  }
  for (const bad of ['', '.', '..', 'a/b', '../x', 'a\\b', 'new\nline', 'nul\0', 'del\x7f']) {
    assert.ok(!transferFileNameSchema.safeParse(bad).success, JSON.stringify(bad));
  }
  assert.ok(!transferFileNameSchema.safeParse('é'.repeat(128)).success, 'over 255 UTF-8 bytes');
  assert.ok(!transferFileNameSchema.safeParse('.raydesk-upload-3').success, 'reserved');
});
