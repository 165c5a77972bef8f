// Finding the guest memory pages written since they were last sent, for pre-copy relocation.
// v86 keeps no dirty log for guest RAM, so each page's content is hashed (two 32-bit
// multiplicative lanes over its words: fast, not cryptographic) and compared with the hash of
// what was sent. The receiver starts from zeroed memory, so a page never sent counts as sent
// zero. Pages are numbered over one or more regions laid end to end (guest RAM, then SVGA memory).

export const PAGE_BYTES = 4096;
const PAGE_WORDS = PAGE_BYTES / 4;

/** A stretch of memory to track: a fresh view each time (v86's wasm memory can grow). */
export interface MemoryRegion {
  view(): Uint8Array;
  readonly bytes: number;
}

/** Changed pages with their contents: `data` holds `pages.length` pages back to back. */
export interface PageBatch {
  pages: Uint32Array;
  data: Uint8Array;
}

function hashInto(words: Int32Array, first: number, out: Uint32Array, slot: number): void {
  let a = 0x811c9dc5 | 0;
  let b = 0x1b873593 | 0;
  const end = first + PAGE_WORDS;
  for (let i = first; i < end; i += 2) {
    a = Math.imul(a ^ words[i]!, 0x01000193);
    b = Math.imul(b ^ words[i + 1]!, 0x5bd1e995);
  }
  out[slot] = a;
  out[slot + 1] = b;
}

export class DirtyPageTracker {
  readonly pageCount: number;
  /** Two hash lanes per page: what the receiver holds. */
  private readonly sent: Uint32Array;
  private readonly regionStarts: number[] = [];
  private readonly scratch = new Uint32Array(2);
  /** Next page a scan looks at; wraps at the end of a round. */
  private cursor = 0;

  constructor(private readonly regions: readonly MemoryRegion[]) {
    let pages = 0;
    for (const region of regions) {
      if (region.bytes % PAGE_BYTES !== 0) throw new Error('region is not whole pages');
      this.regionStarts.push(pages);
      pages += region.bytes / PAGE_BYTES;
    }
    this.pageCount = pages;
    this.sent = new Uint32Array(pages * 2);
    const zero = new Int32Array(PAGE_WORDS);
    hashInto(zero, 0, this.scratch, 0);
    for (let page = 0; page < pages; page++) {
      this.sent[page * 2] = this.scratch[0]!;
      this.sent[page * 2 + 1] = this.scratch[1]!;
    }
  }

  /**
   * Looks at up to `maxScan` pages from the cursor and returns those whose content differs
   * from what was sent (at most `maxPages`), recording them as sent. `roundDone` when the
   * cursor passed the last page (it starts over at the first on the next call).
   */
  scan(maxScan: number, maxPages: number): PageBatch & { roundDone: boolean } {
    const found: number[] = [];
    const copies: Uint8Array[] = [];
    let scanned = 0;
    let region = this.regionOf(this.cursor);
    let memory = this.regions[region]!.view();
    let words = new Int32Array(memory.buffer, memory.byteOffset, memory.byteLength / 4);
    while (scanned < maxScan && found.length < maxPages && this.cursor < this.pageCount) {
      const page = this.cursor;
      if (region + 1 < this.regions.length && page >= this.regionStarts[region + 1]!) {
        region = this.regionOf(page);
        memory = this.regions[region]!.view();
        words = new Int32Array(memory.buffer, memory.byteOffset, memory.byteLength / 4);
      }
      const local = page - this.regionStarts[region]!;
      hashInto(words, local * PAGE_WORDS, this.scratch, 0);
      if (this.scratch[0] !== this.sent[page * 2] || this.scratch[1] !== this.sent[page * 2 + 1]) {
        this.sent[page * 2] = this.scratch[0]!;
        this.sent[page * 2 + 1] = this.scratch[1]!;
        found.push(page);
        copies.push(memory.slice(local * PAGE_BYTES, (local + 1) * PAGE_BYTES));
      }
      this.cursor++;
      scanned++;
    }
    const roundDone = this.cursor >= this.pageCount;
    if (roundDone) this.cursor = 0;
    const data = new Uint8Array(found.length * PAGE_BYTES);
    copies.forEach((copy, i) => data.set(copy, i * PAGE_BYTES));
    return { pages: Uint32Array.from(found), data, roundDone };
  }

  private regionOf(page: number): number {
    let region = 0;
    while (region + 1 < this.regions.length && page >= this.regionStarts[region + 1]!) region++;
    return region;
  }
}

/** The receiving side: writes pages into the same regions, laid out as the sender's. */
export function writePages(regions: readonly MemoryRegion[], batch: PageBatch): void {
  const starts: number[] = [];
  let pages = 0;
  for (const region of regions) {
    starts.push(pages);
    pages += region.bytes / PAGE_BYTES;
  }
  const views = regions.map((region) => region.view());
  batch.pages.forEach((page, i) => {
    if (page >= pages) throw new Error(`page ${page} is outside guest memory`);
    let region = regions.length - 1;
    while (page < starts[region]!) region--;
    const local = page - starts[region]!;
    views[region]!.set(
      batch.data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES),
      local * PAGE_BYTES,
    );
  });
}
