import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { COW_BLOCK_SIZE, CowDisk } from './cow-disk.ts';
import { DurableOverlay } from './durable-overlay.ts';
import type { OverlayBase } from './overlay-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'cow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function makeBase(blocks: number): string {
  const path = join(dir, `base-${blocks}.img`);
  const data = Buffer.alloc(blocks * COW_BLOCK_SIZE);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  writeFileSync(path, data);
  return path;
}

test('reads come from the base until a block is written', () => {
  const base = makeBase(4);
  const disk = new CowDisk(base);
  const expected = readFileSync(base).subarray(1000, 9000);
  assert.deepEqual(Buffer.from(disk.read(1000, 8000)), expected);
  assert.equal(disk.overlay.blockCount, 0);
});

test('a partial write keeps the rest of the block and never touches the base', () => {
  const base = makeBase(4);
  const before = readFileSync(base);
  const disk = new CowDisk(base);
  disk.write(COW_BLOCK_SIZE + 10, new Uint8Array([1, 2, 3]));
  const block = disk.read(COW_BLOCK_SIZE, COW_BLOCK_SIZE);
  assert.deepEqual([...block.subarray(10, 13)], [1, 2, 3]);
  assert.equal(block[9], before[COW_BLOCK_SIZE + 9]);
  assert.equal(block[13], before[COW_BLOCK_SIZE + 13]);
  assert.equal(disk.overlay.blockCount, 1);
  assert.deepEqual(readFileSync(base), before);
});

test('writes spanning blocks land in each block', () => {
  const disk = new CowDisk(makeBase(4));
  const data = new Uint8Array(COW_BLOCK_SIZE + 100).fill(7);
  disk.write(COW_BLOCK_SIZE - 50, data);
  assert.equal(disk.overlay.blockCount, 3);
  assert.ok(disk.read(COW_BLOCK_SIZE - 50, data.length).every((b) => b === 7));
});

test('state round-trips the overlay only', () => {
  const base = makeBase(8);
  const disk = new CowDisk(base);
  disk.write(3 * COW_BLOCK_SIZE, new Uint8Array(COW_BLOCK_SIZE).fill(9));
  const state = disk.get_state();
  assert.equal(state[1].length, 4 + COW_BLOCK_SIZE);
  const clone = new CowDisk(base);
  clone.set_state(state);
  assert.ok(clone.read(3 * COW_BLOCK_SIZE, COW_BLOCK_SIZE).every((b) => b === 9));
});

test('state for a different base size is refused', () => {
  const disk = new CowDisk(makeBase(2));
  assert.throws(() => disk.set_state([3 * COW_BLOCK_SIZE, new Uint8Array()]), /base image/);
});

test('out-of-range access throws', () => {
  const disk = new CowDisk(makeBase(1));
  assert.throws(() => disk.read(COW_BLOCK_SIZE - 1, 2), RangeError);
});

function durableBase(basePath: string): OverlayBase {
  return { appliance: 'desktop', recipeHash: 'r1', baseBytes: readFileSync(basePath).length };
}

test('a staged durable copy is adopted without a copy when nothing was written since', async () => {
  const base = makeBase(8);
  const disk = new CowDisk(base);
  disk.write(0, new Uint8Array(COW_BLOCK_SIZE).fill(7));
  disk.write(3 * COW_BLOCK_SIZE, new Uint8Array(COW_BLOCK_SIZE).fill(9));
  const path = join(dir, 'staged-adopted.overlay');
  await disk.stageOverlay(DurableOverlay.open(path, durableBase(base), 'vm-s1'));
  assert.equal(disk.overlay.kind, 'memory');

  assert.equal(disk.adoptStagedOverlay(path), true);
  assert.equal(disk.overlay.kind, 'durable');
  disk.write(5 * COW_BLOCK_SIZE, new Uint8Array(COW_BLOCK_SIZE).fill(5));
  await disk.settle();
  disk.close();

  // The file alone holds the disk: the staged blocks and the write after the move.
  const reopened = DurableOverlay.open(path, durableBase(base), 'vm-s1');
  assert.deepEqual(
    [...reopened.entries()].map(([block, data]) => [block, data[0]]),
    [
      [0, 7],
      [3, 9],
      [5, 5],
    ],
  );
  reopened.close();
});

test('a staged copy is not adopted after a write or for another path, and leaves no block behind', async () => {
  const base = makeBase(8);
  const disk = new CowDisk(base);
  disk.write(0, new Uint8Array(COW_BLOCK_SIZE).fill(1));
  const path = join(dir, 'staged-stale.overlay');
  await disk.stageOverlay(DurableOverlay.open(path, durableBase(base), 'vm-s2'));
  assert.equal(disk.adoptStagedOverlay(join(dir, 'elsewhere.overlay')), false);

  await disk.stageOverlay(DurableOverlay.open(path, durableBase(base), 'vm-s2'));
  disk.write(COW_BLOCK_SIZE, new Uint8Array(COW_BLOCK_SIZE).fill(2));
  assert.equal(disk.adoptStagedOverlay(path), false);
  assert.equal(disk.overlay.kind, 'memory');
  const dropped = DurableOverlay.open(path, durableBase(base), 'vm-s2');
  assert.equal(dropped.blockCount, 0);

  // The ordinary move then copies every block, the later write included.
  await disk.moveOverlay(dropped);
  assert.equal(disk.overlay.kind, 'durable');
  assert.equal(disk.read(0, 1)[0], 1);
  assert.equal(disk.read(COW_BLOCK_SIZE, 1)[0], 2);
  disk.close();
});
