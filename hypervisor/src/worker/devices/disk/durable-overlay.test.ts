import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CowDisk } from './cow-disk.ts';
import { DurableOverlay, OVERLAY_RECORD_BYTES } from './durable-overlay.ts';
import { OVERLAY_HEADER_BYTES, OverlayBaseMismatchError } from './overlay-format.ts';
import { COW_BLOCK_SIZE, type OverlayBase } from './overlay-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'overlay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE: OverlayBase = { appliance: 'console', recipeHash: 'abc123', baseBytes: 64 * 4096 };
let counter = 0;
const freshPath = () => join(dir, `vm-${++counter}.overlay`);
const block = (fill: number) => new Uint8Array(COW_BLOCK_SIZE).fill(fill);

function makeBase(blocks: number): string {
  const path = join(dir, `base-${++counter}.img`);
  writeFileSync(path, Buffer.alloc(blocks * COW_BLOCK_SIZE, 0xee));
  return path;
}

test('blocks survive close and reopen; the newest write of a block wins', async () => {
  const path = freshPath();
  const overlay = DurableOverlay.open(path, BASE, 'vm-a');
  overlay.writeBlocks([
    [3, block(1)],
    [7, block(2)],
  ]);
  overlay.writeBlocks([[3, block(9)]]);
  await overlay.settle();
  overlay.close();

  const reopened = DurableOverlay.open(path, BASE, 'vm-a');
  assert.equal(reopened.blockCount, 2);
  assert.equal(reopened.replay.records, 3);
  assert.equal(reopened.generation, 3);
  assert.ok(reopened.read(3)!.every((b) => b === 9));
  assert.ok(reopened.read(7)!.every((b) => b === 2));
  assert.equal(reopened.read(4), undefined);
  reopened.close();
});

test('a torn last record is cut: the block reads its previous content, never garbage', () => {
  const path = freshPath();
  const overlay = DurableOverlay.open(path, BASE, 'vm-b');
  overlay.writeBlocks([[5, block(1)]]);
  overlay.writeBlocks([[5, block(2)]]);
  overlay.close();
  // The daemon died halfway through writing the second record.
  truncateSync(path, OVERLAY_HEADER_BYTES + OVERLAY_RECORD_BYTES + 1000);

  const reopened = DurableOverlay.open(path, BASE, 'vm-b');
  assert.equal(reopened.replay.tornBytes, 1000);
  assert.ok(reopened.read(5)!.every((b) => b === 1));
  assert.equal(statSync(path).size, OVERLAY_HEADER_BYTES + OVERLAY_RECORD_BYTES);
  // Appending after the cut works and survives another reopen.
  reopened.writeBlocks([[6, block(3)]]);
  reopened.close();
  const again = DurableOverlay.open(path, BASE, 'vm-b');
  assert.equal(again.blockCount, 2);
  assert.ok(again.read(6)!.every((b) => b === 3));
  again.close();
});

test('a record whose checksum fails ends the log there', () => {
  const path = freshPath();
  const overlay = DurableOverlay.open(path, BASE, 'vm-c');
  overlay.writeBlocks([[1, block(1)]]);
  overlay.writeBlocks([[2, block(2)]]);
  overlay.writeBlocks([[3, block(3)]]);
  overlay.close();
  const bytes = readFileSync(path);
  // Flip one data byte of the second record (a sector the host lost).
  const flipAt = OVERLAY_HEADER_BYTES + OVERLAY_RECORD_BYTES + 100;
  bytes.writeUInt8(bytes.readUInt8(flipAt) ^ 0xff, flipAt);
  writeFileSync(path, bytes);

  const reopened = DurableOverlay.open(path, BASE, 'vm-c');
  assert.equal(reopened.blockCount, 1);
  assert.ok(reopened.read(1)!.every((b) => b === 1));
  assert.equal(reopened.read(2), undefined);
  assert.equal(reopened.replay.tornBytes, 2 * OVERLAY_RECORD_BYTES);
  reopened.close();
});

test('an overlay made on another base image is refused with a clear error', () => {
  const path = freshPath();
  DurableOverlay.open(path, BASE, 'vm-d').close();
  assert.throws(
    () => DurableOverlay.open(path, { ...BASE, recipeHash: 'def456' }, 'vm-d'),
    (error: unknown) =>
      error instanceof OverlayBaseMismatchError &&
      /made on the console image abc123/.test(error.message) &&
      /refusing/.test(error.message),
  );
});

test('an overlay made on another build of the same recipe is refused; one made before builds were named is not', () => {
  const path = freshPath();
  DurableOverlay.open(path, { ...BASE, imageBuildId: 'build-1' }, 'vm-g').close();
  assert.throws(
    () => DurableOverlay.open(path, { ...BASE, imageBuildId: 'build-2' }, 'vm-g'),
    (error: unknown) =>
      error instanceof OverlayBaseMismatchError &&
      /abc123 \(\d+ bytes, build build-1\)/.test(error.message),
  );
  DurableOverlay.open(path, { ...BASE, imageBuildId: 'build-1' }, 'vm-g').close();

  const older = freshPath();
  DurableOverlay.open(older, BASE, 'vm-h').close();
  DurableOverlay.open(older, { ...BASE, imageBuildId: 'build-2' }, 'vm-h').close();
});

test('a file that is not an overlay is refused', () => {
  const path = freshPath();
  writeFileSync(path, 'hello');
  assert.throws(() => DurableOverlay.open(path, BASE, 'vm-e'), /not a Raydesk disk overlay/);
});

test('compaction on open drops superseded records and keeps the data', () => {
  const path = freshPath();
  const overlay = DurableOverlay.open(path, BASE, 'vm-f');
  // 16 MiB of rewrites of two blocks.
  const rounds = Math.ceil((16 * 1024 * 1024) / OVERLAY_RECORD_BYTES / 2) + 10;
  for (let i = 0; i < rounds; i++) {
    overlay.writeBlocks([
      [10, block(i & 0xff)],
      [11, block((i + 1) & 0xff)],
    ]);
  }
  overlay.close();
  const reopened = DurableOverlay.open(path, BASE, 'vm-f');
  assert.equal(reopened.replay.compacted, true);
  assert.equal(statSync(path).size, OVERLAY_HEADER_BYTES + 2 * OVERLAY_RECORD_BYTES);
  assert.ok(reopened.read(10)!.every((b) => b === ((rounds - 1) & 0xff)));
  assert.ok(reopened.read(11)!.every((b) => b === (rounds & 0xff)));
  assert.equal(reopened.generation, rounds * 2);
  assert.equal(existsSync(`${path}.compact`), false);
  reopened.close();
});

test('the guest sees a write complete only after it is committed', async () => {
  const path = freshPath();
  const overlay = DurableOverlay.open(path, BASE, 'vm-g');
  const disk = new CowDisk(makeBase(64), overlay);
  const order: string[] = [];
  const origCommit = overlay.commit.bind(overlay);
  overlay.commit = () => {
    const pending = origCommit();
    void pending?.then(() => order.push('synced'));
    return pending;
  };
  await new Promise<void>((resolve) =>
    disk.set(0, block(4), () => {
      order.push('acknowledged');
      resolve();
    }),
  );
  assert.deepEqual(order, ['synced', 'acknowledged']);
  await disk.settle();
  disk.close();
});

test('a durable disk saves a marker, and refuses a state from another disk version', async () => {
  const base = makeBase(64);
  const path = freshPath();
  const disk = new CowDisk(base, DurableOverlay.open(path, BASE, 'vm-h'));
  disk.write(0, block(1));
  const state = disk.get_state();
  assert.equal(state[1].length, 0, 'the blocks stay in the overlay file');
  disk.set_state(state); // same version: accepted
  disk.write(COW_BLOCK_SIZE, block(2));
  assert.throws(() => disk.set_state(state), /disk changed after the state was saved/);
  // A snapshot's blocks never replace a personal disk's contents.
  const memoryDisk = new CowDisk(base);
  memoryDisk.write(0, block(5));
  assert.throws(() => disk.set_state(memoryDisk.get_state()), /refusing to replace/);
  await disk.settle();
  disk.close();
});

test('moving a standby disk from memory onto a durable overlay keeps its blocks', async () => {
  const base = makeBase(64);
  const disk = new CowDisk(base);
  disk.write(2 * COW_BLOCK_SIZE, block(8));
  const path = freshPath();
  await disk.moveOverlay(DurableOverlay.open(path, BASE, 'vm-i'));
  assert.equal(disk.overlay.kind, 'durable');
  disk.close();
  const reopened = DurableOverlay.open(path, BASE, 'vm-i');
  assert.ok(reopened.read(2)!.every((b) => b === 8));
  reopened.close();
});

// A child process writes and commits numbered blocks, printing each number after its commit
// resolved (the moment the guest would see the write complete), and is killed with SIGKILL
// mid-stream. Every acknowledged block must be there afterwards, with the right content.
test('kill -9 while writing loses no acknowledged write', async () => {
  for (let round = 0; round < 3; round++) {
    const path = freshPath();
    DurableOverlay.open(path, BASE, 'vm-k').close();
    const script = `
      import { DurableOverlay } from ${JSON.stringify(new URL('./durable-overlay.ts', import.meta.url).href)};
      const overlay = DurableOverlay.open(${JSON.stringify(path)}, ${JSON.stringify(BASE)}, 'vm-k');
      for (let i = 0; ; i++) {
        const data = new Uint8Array(4096).fill(i & 0xff);
        new DataView(data.buffer).setUint32(0, i, true);
        overlay.writeBlocks([[i % 64, data]]);
        await overlay.commit();
        process.stdout.write(i + '\\n');
      }`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let acknowledged = -1;
    let buffered = '';
    const target = 200 + round * 150;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acknowledged = Number(line);
        if (acknowledged >= target && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    // Also tear the tail as a crash mid-append would.
    appendFileSync(path, Buffer.alloc(1234, 0x55));

    const overlay = DurableOverlay.open(path, BASE, 'vm-k');
    // The last acknowledged write of each slot is there (or a later, unacknowledged one).
    for (let slot = 0; slot < 64; slot++) {
      const lastAcked = acknowledged - ((((acknowledged - slot) % 64) + 64) % 64);
      if (lastAcked < 0) continue;
      const data = overlay.read(slot);
      assert.ok(data, `slot ${slot} lost`);
      const written = new DataView(data.buffer).getUint32(0, true);
      assert.ok(written >= lastAcked, `slot ${slot} went back from ${lastAcked} to ${written}`);
      assert.ok(
        data.subarray(4).every((b) => b === (written & 0xff)),
        `slot ${slot} is garbage`,
      );
    }
    assert.ok(overlay.replay.tornBytes >= 1234, 'the torn tail is cut');
    overlay.close();
  }
});
