// Finding the guest memory pages written since they were last sent, for pre-copy relocation.
// v86 keeps no dirty log for guest RAM, so the sender keeps a shadow copy of what it sent and
// compares memory with it (memcmp through Buffer.compare, a block of pages at a time and then
// page by page inside a block that differs): far faster than hashing, which matters most for
// the last round, scanned while the guest is paused. The receiver starts from zeroed memory,
// so the shadow starts zeroed too (its pages cost nothing until written). Pages are numbered
// over one or more regions laid end to end (guest RAM, then SVGA memory).

export const PAGE_BYTES = 4096;
/** Pages compared at once before looking page by page: most blocks did not change. */
const BLOCK_PAGES = 16;

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

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class DirtyPageTracker {
  readonly pageCount: number;
  /** What the receiver holds, one shadow per region. */
  private readonly shadows: Buffer[];
  private readonly regionStarts: number[] = [];
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
    this.shadows = regions.map((region) => Buffer.alloc(region.bytes));
  }

  /**
   * Looks at up to `maxScan` pages from the cursor and returns those whose content differs
   * from what was sent (at most `maxPages`), recording them as sent. `roundDone` when the
   * cursor passed the last page (it starts over at the first on the next call).
   */
  scan(maxScan: number, maxPages: number): PageBatch & { roundDone: boolean } {
    const found: number[] = [];
    const scanEnd = Math.min(this.pageCount, this.cursor + maxScan);
    while (this.cursor < scanEnd && found.length < maxPages) {
      const region = this.regionOf(this.cursor);
      const regionStart = this.regionStarts[region]!;
      const regionEnd = regionStart + this.regions[region]!.bytes / PAGE_BYTES;
      const memory = asBuffer(this.regions[region]!.view());
      const shadow = this.shadows[region]!;
      const end = Math.min(scanEnd, regionEnd);
      while (this.cursor < end && found.length < maxPages) {
        const local = this.cursor - regionStart;
        const blockPages = Math.min(BLOCK_PAGES, end - this.cursor);
        const from = local * PAGE_BYTES;
        const to = from + blockPages * PAGE_BYTES;
        if (memory.compare(shadow, from, to, from, to) === 0) {
          this.cursor += blockPages;
          continue;
        }
        for (let at = from; at < to && found.length < maxPages; at += PAGE_BYTES) {
          if (memory.compare(shadow, at, at + PAGE_BYTES, at, at + PAGE_BYTES) !== 0) {
            memory.copy(shadow, at, at, at + PAGE_BYTES);
            found.push(this.cursor);
          }
          this.cursor++;
        }
      }
    }
    const roundDone = this.cursor >= this.pageCount;
    if (roundDone) this.cursor = 0;
    const data = new Uint8Array(found.length * PAGE_BYTES);
    found.forEach((page, i) => {
      const region = this.regionOf(page);
      const at = (page - this.regionStarts[region]!) * PAGE_BYTES;
      data.set(this.shadows[region]!.subarray(at, at + PAGE_BYTES), i * PAGE_BYTES);
    });
    return { pages: Uint32Array.from(found), data, roundDone };
  }

  /**
   * Every page changed since sent, in one go (the guest is stopped): from the first page to
   * the last, whatever a round in progress had reached.
   */
  scanAll(): PageBatch {
    this.cursor = 0;
    const batch = this.scan(this.pageCount, this.pageCount);
    return { pages: batch.pages, data: batch.data };
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
