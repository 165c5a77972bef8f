import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { V86 } from 'v86';
import { loadConfig } from '../config.ts';
import type { SharedGolden } from '../snapshots/saved-state.ts';
import { GoldenMemory } from './golden-memory.ts';
import { PAGE_BYTES, type MemoryRegion } from './relocation/dirty-pages.ts';
import { memoryRegions, stateMemory, type V86WithMemory } from './v86-memory.ts';

const require = createRequire(import.meta.url);
const RAM_MIB = 8;
const VGA_MIB = 2;

/** A real v86 machine with small memory and no disk, loaded but never run. */
async function machine(): Promise<{ emulator: V86; regions: MemoryRegion[] }> {
  const bios = loadConfig().seabiosDir;
  const bytes = (path: string) => new Uint8Array(readFileSync(path)).buffer;
  const emulator = new V86({
    wasm_path: require.resolve('v86/build/v86.wasm'),
    bios: { buffer: bytes(`${bios}/bios.bin`) },
    vga_bios: { buffer: bytes(`${bios}/vgabios-stdvga.bin`) },
    memory_size: RAM_MIB * 2 ** 20,
    vga_memory_size: VGA_MIB * 2 ** 20,
    autostart: false,
  });
  await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
  return { emulator, regions: memoryRegions(emulator as unknown as V86WithMemory) };
}

function fillPage(regions: MemoryRegion[], region: number, page: number, value: number): void {
  regions[region]!.view().fill(value, page * PAGE_BYTES, (page + 1) * PAGE_BYTES);
}

function snapshotOf(regions: MemoryRegion[]): Buffer[] {
  return regions.map((region) => Buffer.from(region.view()));
}

const ramPages = (RAM_MIB * 2 ** 20) / PAGE_BYTES;
let source: Awaited<ReturnType<typeof machine>>;
let golden: SharedGolden;

before(async () => {
  source = await machine();
  // A golden with RAM in runs (pages 300-309 and 1000) and a picture in SVGA memory.
  for (let page = 300; page < 310; page++) fillPage(source.regions, 0, page, page & 0xff);
  fillPage(source.regions, 0, 1000, 7);
  fillPage(source.regions, 1, 3, 9);
  const state = await source.emulator.save_state();
  const shared = new SharedArrayBuffer(state.byteLength);
  new Uint8Array(shared).set(new Uint8Array(state));
  golden = { id: 'build-1@2026-11-28T00:00:00Z', state: shared };
});

after(async () => {
  await source.emulator.destroy();
});

test("a saved v86 state's memory is found in place: RAM's nonzero pages and SVGA memory", () => {
  const memory = stateMemory(golden.state);
  assert.equal(memory.ramBytes, RAM_MIB * 2 ** 20);
  assert.equal(memory.svga?.length, VGA_MIB * 2 ** 20);
  assert.equal(memory.ramBitmap.length, ramPages / 8);
  const ram = source.regions[0]!.view();
  let packedPage = 0;
  for (let page = 0; page < ramPages; page++) {
    if (((memory.ramBitmap[page >> 3]! >> (page & 7)) & 1) === 0) continue;
    const at = page * PAGE_BYTES;
    const packed = memory.packedRam.subarray(
      packedPage * PAGE_BYTES,
      (packedPage + 1) * PAGE_BYTES,
    );
    assert.deepEqual(Buffer.from(packed), Buffer.from(ram.subarray(at, at + PAGE_BYTES)));
    packedPage++;
  }
  assert.equal(packedPage * PAGE_BYTES, memory.packedRam.length);
  assert.ok(packedPage >= 11, 'the pages written, and the BIOS v86 loaded into RAM');
  assert.equal(memory.svga![3 * PAGE_BYTES], 9);
});

test('a delta holds exactly the pages that differ, and restores the same memory elsewhere', async () => {
  const memory = new GoldenMemory(golden);
  assert.deepEqual([...memory.diff(source.regions).pages], [], 'unchanged: nothing to save');
  fillPage(source.regions, 0, 305, 0); // a golden page now zero
  fillPage(source.regions, 0, 2000, 1); // a zero page now written
  source.regions[0]!.view()[1000 * PAGE_BYTES + 17] = 8; // one byte of a golden page
  fillPage(source.regions, 1, 100, 5); // SVGA memory, numbered after RAM
  const delta = memory.diff(source.regions);
  assert.deepEqual([...delta.pages], [305, 1000, 2000, ramPages + 100]);
  assert.equal(delta.data.length, 4 * PAGE_BYTES);

  const target = await machine();
  try {
    // Whatever the target held before (here: junk) is replaced.
    fillPage(target.regions, 0, 4000, 3);
    fillPage(target.regions, 1, 200, 3);
    memory.restore(target.regions, { goldenId: golden.id, ...delta });
    assert.deepEqual(snapshotOf(target.regions), snapshotOf(source.regions));
  } finally {
    await target.emulator.destroy();
  }
});

test('a delta is refused over another golden, and memory of another size does not fit', async () => {
  const memory = new GoldenMemory(golden);
  const delta = {
    goldenId: 'build-1@another-time',
    pages: new Uint32Array(0),
    data: new Uint8Array(0),
  };
  assert.throws(
    () => memory.restore(source.regions, delta),
    /saved against golden build-1@another-time/,
  );
  const smaller = [{ bytes: PAGE_BYTES * 16, view: () => new Uint8Array(PAGE_BYTES * 16) }];
  assert.equal(memory.fits(smaller), false);
  assert.throws(() => memory.diff(smaller), /not laid out like golden/);
});
