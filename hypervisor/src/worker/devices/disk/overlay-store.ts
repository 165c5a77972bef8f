// Where a VM's written disk blocks live. The copy-on-write disk (cow-disk.ts) talks to one of
// these: MemoryOverlay for disposable VMs (nothing touches the host disk), DurableOverlay
// (durable-overlay.ts) for personal VMs.

export const COW_BLOCK_SIZE = 4096;

/** The base image an overlay was made on; an overlay is only valid on top of that base. */
export interface OverlayBase {
  appliance: string;
  /** Recipe hash of the appliance image (names the cached image). */
  recipeHash: string;
  /** Size of the base image in bytes. */
  baseBytes: number;
  /**
   * Which build of the recipe (ApplianceImage.buildId): two builds differ block by block.
   * Overlays made before builds were named lack it, and are checked by recipe alone.
   */
  imageBuildId?: string;
}

export interface DiskReport {
  kind: 'memory' | 'durable';
  /** Bytes of guest data the overlay holds (written blocks x 4 KiB). */
  overlayBytes: number;
  /** Bytes the overlay takes on the host disk (0 for memory). */
  fileBytes: number;
  generation: number;
}

export interface OverlayStore {
  readonly kind: 'memory' | 'durable';
  read(block: number): Uint8Array | undefined;
  /** Stores whole blocks; durable only after `commit()` settles. */
  writeBlocks(blocks: ReadonlyArray<readonly [number, Uint8Array]>): void;
  /**
   * Makes every write so far durable. Resolves when it is; `null` means it already is (memory
   * stores, or nothing written since the last commit).
   */
  commit(): Promise<void> | null;
  entries(): Iterable<[number, Uint8Array]>;
  clear(): void;
  close(): void;
  readonly blockCount: number;
  /** Monotonic count of block writes over the store's life; identifies a disk version. */
  readonly generation: number;
  /** Bytes on the host disk (0 for memory). */
  readonly fileBytes: number;
}

export class MemoryOverlay implements OverlayStore {
  readonly kind = 'memory';
  private readonly blocks = new Map<number, Uint8Array>();
  private writes = 0;

  read(block: number): Uint8Array | undefined {
    return this.blocks.get(block);
  }
  writeBlocks(blocks: ReadonlyArray<readonly [number, Uint8Array]>): void {
    for (const [block, data] of blocks) this.blocks.set(block, data);
    this.writes += blocks.length;
  }
  commit(): null {
    return null;
  }
  entries(): Iterable<[number, Uint8Array]> {
    return this.blocks.entries();
  }
  clear(): void {
    this.blocks.clear();
  }
  close(): void {
    // Dropping the map is the wipe: nothing of a memory overlay ever reached the host disk.
    this.blocks.clear();
  }
  get blockCount(): number {
    return this.blocks.size;
  }
  get generation(): number {
    return this.writes;
  }
  get fileBytes(): number {
    return 0;
  }
}
