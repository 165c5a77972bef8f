import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLIPBOARD_MAX_BYTES,
  DOWNLOAD_MAX_BYTES,
  TRANSFER_CHUNK_BYTES,
  UPLOAD_MAX_BYTES,
  transferFileNameSchema as hypervisorNameSchema,
} from '@raydesk/hypervisor/api';
import { TRANSFER_EVENT_CONTRACT, TRANSFER_LIMITS, transferFileNameSchema } from './transfer.ts';

test("the viewer's limits are within what the hypervisor accepts", () => {
  assert.ok(TRANSFER_LIMITS.clipboardBytes <= CLIPBOARD_MAX_BYTES);
  assert.ok(TRANSFER_LIMITS.uploadBytes <= UPLOAD_MAX_BYTES);
  assert.ok(TRANSFER_LIMITS.downloadBytes <= DOWNLOAD_MAX_BYTES);
  assert.equal(TRANSFER_LIMITS.chunkBytes, TRANSFER_CHUNK_BYTES);
});

test('a name the gateway accepts is one the hypervisor accepts, and the refusals say why', () => {
  const names = ['a.txt', 'Ünï cödé.bin', '..', '.', 'a/b', 'a\\b', 'x\ty', '', '.raydesk-x'];
  for (const name of names) {
    assert.equal(
      transferFileNameSchema.safeParse(name).success,
      hypervisorNameSchema.safeParse(name).success,
      name,
    );
  }
  const refusal = TRANSFER_EVENT_CONTRACT['files:upload-begin'].safeParse({
    name: 'a/b',
    bytes: 1,
  });
  assert.ok(!refusal.success);
  assert.match(refusal.error.issues[0]!.message, /contains "\/"/);
  const big = TRANSFER_EVENT_CONTRACT['files:upload-begin'].safeParse({
    name: 'big.iso',
    bytes: TRANSFER_LIMITS.uploadBytes + 1,
  });
  assert.ok(!big.success);
  assert.match(big.error.issues[0]!.message, /limited to 64 MiB/);
  const text = 'é'.repeat(TRANSFER_LIMITS.clipboardBytes / 2 + 1);
  assert.ok(!TRANSFER_EVENT_CONTRACT['clipboard:set'].safeParse({ text }).success);
});
