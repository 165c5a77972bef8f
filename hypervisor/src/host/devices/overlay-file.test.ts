import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DurableOverlay } from '../../worker/devices/disk/durable-overlay.ts';
import { COW_BLOCK_SIZE, type OverlayBase } from '../../worker/devices/disk/overlay-store.ts';
import { HostError } from '../errors.ts';
import {
  checkOverlayBase,
  describeDisk,
  inspectOverlay,
  overlayHasBlocks,
} from './overlay-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'overlay-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base: OverlayBase = { appliance: 'console', recipeHash: 'abc123', baseBytes: 1 << 20 };

test('a missing overlay is an unwritten disk that any base may use', () => {
  const path = join(dir, 'missing.overlay');
  assert.equal(inspectOverlay(path), null);
  assert.equal(overlayHasBlocks(path), false);
  checkOverlayBase(path, base);
});

test('an overlay reports its base and size; blocks only once one is written', async () => {
  const path = join(dir, 'written.overlay');
  const overlay = DurableOverlay.open(path, base, 'vm-00000001');
  assert.equal(overlayHasBlocks(path), false, 'a header alone holds no block');
  overlay.writeBlocks([[3, new Uint8Array(COW_BLOCK_SIZE).fill(7)]]);
  await overlay.settle();
  overlay.close();
  assert.equal(overlayHasBlocks(path), true);
  assert.deepEqual(inspectOverlay(path), { base, fileBytes: statSync(path).size });
  checkOverlayBase(path, base);
});

test('an overlay made on another base image is refused as disk_mismatch', () => {
  const path = join(dir, 'other-base.overlay');
  DurableOverlay.open(path, base, 'vm-00000002').close();
  assert.throws(
    () => checkOverlayBase(path, { ...base, recipeHash: 'def456' }),
    (error: unknown) => error instanceof HostError && error.code === 'disk_mismatch',
  );
});

test('a file that is not an overlay is an internal error, never mounted', () => {
  const path = join(dir, 'garbage.overlay');
  writeFileSync(path, 'not an overlay at all');
  assert.throws(
    () => checkOverlayBase(path, base),
    (error: unknown) => error instanceof HostError && error.code === 'internal',
  );
});

test('a disk is described from its worker while it runs, else from its overlay file', async () => {
  const memory = describeDisk({ kind: 'memory' }, base, null);
  assert.deepEqual(memory, {
    kind: 'memory',
    overlayBytes: 0,
    fileBytes: 0,
    generation: 0,
    base,
    path: null,
  });

  const path = join(dir, 'described.overlay');
  const durable = { kind: 'durable' as const, overlayPath: path, base };
  assert.deepEqual(describeDisk(durable, base, null), {
    kind: 'durable',
    overlayBytes: 0,
    fileBytes: 0,
    generation: 0,
    base,
    path,
  });

  const overlay = DurableOverlay.open(path, base, 'vm-00000003');
  overlay.writeBlocks([[1, new Uint8Array(COW_BLOCK_SIZE)]]);
  await overlay.settle();
  overlay.close();
  const stopped = describeDisk(durable, { ...base, recipeHash: 'newer' }, null);
  assert.equal(stopped.overlayBytes, -1, 'without a worker the current data is not known');
  assert.equal(stopped.generation, -1);
  assert.equal(stopped.fileBytes, statSync(path).size);
  assert.deepEqual(stopped.base, base, 'the base the file was made on, not the newer one');

  const live = { kind: 'durable' as const, overlayBytes: 4096, fileBytes: 12288, generation: 1 };
  assert.deepEqual(describeDisk(durable, base, live), { ...live, base, path });
});
