// A golden snapshot's guest memory, read in place from the v86 state the host shares with every
// worker of the appliance: a suspend saves only the pages that differ from it, and a resume
// writes it and then those pages. Comparing and copying go a block of pages at a time through
// memcmp (Buffer.compare): most blocks are equal, and pages that are already right are never
// written, so they cost the new VM no resident memory.
import type { GoldenDelta, SharedGolden } from '../snapshots/saved-state.ts';
import {
  PAGE_BYTES,
  writePages,
  type MemoryRegion,
  type PageBatch,
} from './relocation/dirty-pages.ts';
import { stateMemory } from './v86-memory.ts';

const BLOCK_BYTES = 16 * PAGE_BYTES;
const ZEROS = Buffer.alloc(BLOCK_BYTES);

/** What one stretch of guest memory should hold: pages from the golden, or zeros. */
interface Stretch {
  /** Region, and byte offset and length within it. */
  region: number;
  at: number;
  bytes: number;
  /** The golden's bytes for it; null when they are zero. */
  source: Buffer | null;
}

export class GoldenMemory {
  readonly id: string;
  private readonly stretches: Stretch[] = [];
  private readonly regionBytes: number[];

  constructor(golden: SharedGolden) {
    this.id = golden.id;
    const memory = stateMemory(golden.state);
    const ramPages = memory.ramBytes / PAGE_BYTES;
    const packed = toBuffer(memory.packedRam);
    // Runs of nonzero pages sit back to back in the packed RAM; runs of zero pages are gaps.
    let packedPage = 0;
    let page = 0;
    while (page < ramPages) {
      const nonzero = bit(memory.ramBitmap, page);
      let end = page + 1;
      while (end < ramPages && bit(memory.ramBitmap, end) === nonzero) end++;
      const count = end - page;
      const source = nonzero
        ? packed.subarray(packedPage * PAGE_BYTES, (packedPage + count) * PAGE_BYTES)
        : null;
      if (nonzero) packedPage += count;
      this.stretches.push({ region: 0, at: page * PAGE_BYTES, bytes: count * PAGE_BYTES, source });
      page = end;
    }
    if (packedPage * PAGE_BYTES !== packed.length)
      throw new Error('golden RAM bitmap and pages disagree');
    this.regionBytes = [memory.ramBytes];
    if (memory.svga) {
      this.regionBytes.push(memory.svga.length);
      this.stretches.push({
        region: 1,
        at: 0,
        bytes: memory.svga.length,
        source: toBuffer(memory.svga),
      });
    }
  }

  /** Whether a machine with these memory regions can be saved or restored against it. */
  fits(regions: readonly MemoryRegion[]): boolean {
    return (
      regions.length === this.regionBytes.length &&
      regions.every((region, i) => region.bytes === this.regionBytes[i])
    );
  }

  /** Makes `regions` hold the golden's memory, writing only the blocks that differ. */
  private load(regions: readonly MemoryRegion[]): void {
    this.assertFits(regions);
    const views = regions.map((region) => toBuffer(region.view()));
    for (const stretch of this.stretches) {
      const memory = views[stretch.region]!.subarray(stretch.at, stretch.at + stretch.bytes);
      for (let at = 0; at < stretch.bytes; at += BLOCK_BYTES) {
        const end = Math.min(stretch.bytes, at + BLOCK_BYTES);
        if (same(memory, stretch.source, at, end)) continue;
        if (stretch.source) stretch.source.copy(memory, at, at, end);
        else memory.fill(0, at, end);
      }
    }
  }

  /** The pages of `regions` that differ from the golden's, with their contents. */
  diff(regions: readonly MemoryRegion[]): PageBatch {
    this.assertFits(regions);
    const views = regions.map((region) => toBuffer(region.view()));
    const regionStartPage = [0];
    for (const bytes of this.regionBytes)
      regionStartPage.push(regionStartPage.at(-1)! + bytes / PAGE_BYTES);
    const changed: { page: number; bytes: Buffer }[] = [];
    for (const stretch of this.stretches) {
      const memory = views[stretch.region]!.subarray(stretch.at, stretch.at + stretch.bytes);
      const firstPage = regionStartPage[stretch.region]! + stretch.at / PAGE_BYTES;
      for (let at = 0; at < stretch.bytes; at += BLOCK_BYTES) {
        const end = Math.min(stretch.bytes, at + BLOCK_BYTES);
        if (same(memory, stretch.source, at, end)) continue;
        for (let pageAt = at; pageAt < end; pageAt += PAGE_BYTES) {
          if (same(memory, stretch.source, pageAt, pageAt + PAGE_BYTES)) continue;
          changed.push({
            page: firstPage + pageAt / PAGE_BYTES,
            bytes: memory.subarray(pageAt, pageAt + PAGE_BYTES),
          });
        }
      }
    }
    const pages = new Uint32Array(changed.length);
    const data = new Uint8Array(changed.length * PAGE_BYTES);
    changed.forEach((entry, i) => {
      pages[i] = entry.page;
      data.set(entry.bytes, i * PAGE_BYTES);
    });
    return { pages, data };
  }

  /** Restores a delta's memory: the golden's, then the delta's pages over it. */
  restore(
    regions: readonly MemoryRegion[],
    delta: Pick<GoldenDelta, 'goldenId' | 'pages' | 'data'>,
  ): void {
    if (delta.goldenId !== this.id) {
      throw new Error(
        `the state was saved against golden ${delta.goldenId}, this VM has ${this.id}`,
      );
    }
    this.load(regions);
    writePages(regions, delta);
  }

  private assertFits(regions: readonly MemoryRegion[]): void {
    if (!this.fits(regions)) {
      const sizes = regions.map((region) => region.bytes).join('+');
      throw new Error(`guest memory (${sizes} bytes) is not laid out like golden ${this.id}'s`);
    }
  }
}

function bit(bitmap: Uint8Array, index: number): boolean {
  return ((bitmap[index >> 3]! >> (index & 7)) & 1) === 1;
}

function same(memory: Buffer, source: Buffer | null, from: number, to: number): boolean {
  return source
    ? memory.compare(source, from, to, from, to) === 0
    : memory.compare(ZEROS, 0, to - from, from, to) === 0;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
