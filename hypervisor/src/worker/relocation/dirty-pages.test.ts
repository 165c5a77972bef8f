import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { test } from 'node:test';
import { DirtyPageTracker, PAGE_BYTES, writePages, type MemoryRegion } from './dirty-pages.ts';

function flip(memory: Uint8Array, at: number, bits: number): void {
  memory[at] = (memory[at] ?? 0) ^ bits;
}

function region(bytes: number): MemoryRegion & { memory: Uint8Array } {
  const memory = new Uint8Array(bytes);
  return { memory, bytes, view: () => memory };
}

/** Runs scans until a round ends, applying every batch to the receiver. */
function copyRound(tracker: DirtyPageTracker, to: MemoryRegion[], maxScan = 7): number {
  let sent = 0;
  for (;;) {
    const batch = tracker.scan(maxScan, 3);
    writePages(to, batch);
    sent += batch.pages.length;
    if (batch.roundDone) return sent;
  }
}

test('the first round sends only non-zero pages, and the copy then equals the source', () => {
  const ram = region(64 * PAGE_BYTES);
  const svga = region(8 * PAGE_BYTES);
  ram.memory.fill(7, 3 * PAGE_BYTES, 5 * PAGE_BYTES);
  randomFillSync(svga.memory, 2 * PAGE_BYTES, PAGE_BYTES);
  const target = [region(ram.bytes), region(svga.bytes)];
  const tracker = new DirtyPageTracker([ram, svga]);
  assert.equal(tracker.pageCount, 72);
  assert.equal(copyRound(tracker, target), 3);
  assert.deepEqual(target[0]!.memory, ram.memory);
  assert.deepEqual(target[1]!.memory, svga.memory);
});

test('later rounds resend exactly the pages written since they were sent', () => {
  const ram = region(32 * PAGE_BYTES);
  randomFillSync(ram.memory);
  const target = [region(ram.bytes)];
  const tracker = new DirtyPageTracker([ram]);
  assert.equal(copyRound(tracker, target), 32);
  assert.equal(copyRound(tracker, target), 0);
  flip(ram.memory, 5 * PAGE_BYTES + 17, 1);
  ram.memory.fill(0, 9 * PAGE_BYTES, 10 * PAGE_BYTES); // a page that became zero goes too
  flip(ram.memory, 32 * PAGE_BYTES - 1, 0x80);
  assert.equal(copyRound(tracker, target), 3);
  assert.deepEqual(target[0]!.memory, ram.memory);
});

test('a page written behind the cursor during a round is caught by the next round', () => {
  const ram = region(16 * PAGE_BYTES);
  randomFillSync(ram.memory);
  const target = [region(ram.bytes)];
  const tracker = new DirtyPageTracker([ram]);
  const first = tracker.scan(8, 100);
  writePages(target, first);
  flip(ram.memory, 2 * PAGE_BYTES, 0xff); // already sent this round
  writePages(target, tracker.scan(100, 100));
  assert.notDeepEqual(target[0]!.memory, ram.memory);
  assert.equal(copyRound(tracker, target, 100), 1);
  assert.deepEqual(target[0]!.memory, ram.memory);
});

test('pages outside the receiver are refused', () => {
  assert.throws(
    () =>
      writePages([region(PAGE_BYTES)], {
        pages: Uint32Array.of(1),
        data: new Uint8Array(PAGE_BYTES),
      }),
    /outside guest memory/,
  );
});

test('the stop-and-copy pass finds changes on both sides of a round in progress', () => {
  const ram = region(16 * PAGE_BYTES);
  const svga = region(4 * PAGE_BYTES);
  randomFillSync(ram.memory);
  const target = [region(ram.bytes), region(svga.bytes)];
  const tracker = new DirtyPageTracker([ram, svga]);
  copyRound(tracker, target);
  writePages(target, tracker.scan(8, 100)); // a round half done
  flip(ram.memory, 1 * PAGE_BYTES, 0x01); // behind the cursor
  flip(ram.memory, 12 * PAGE_BYTES, 0x02); // ahead of it
  flip(svga.memory, 3 * PAGE_BYTES + 5, 0x04);
  const last = tracker.scanAll();
  assert.deepEqual([...last.pages], [1, 12, 19]);
  writePages(target, last);
  assert.deepEqual(target[0]!.memory, ram.memory);
  assert.deepEqual(target[1]!.memory, svga.memory);
});
