// Copy-on-write block device: the guest reads a shared, read-only base image and every write
// lands in a per-VM overlay of fixed-size blocks. It implements the block-backend interface
// v86's IDE controller calls (get/set/load/get_state/set_state), so v86 reads and writes
// through it directly.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  COW_BLOCK_SIZE,
  MemoryOverlay,
  type DiskReport,
  type OverlayStore,
} from './overlay-store.ts';

export { COW_BLOCK_SIZE, MemoryOverlay, type OverlayStore } from './overlay-store.ts';

/**
 * What a saved VM state records about a durable disk instead of its blocks: the blocks stay in
 * the overlay file, and the generation proves the file still matches the saved memory.
 */
interface DurableDiskMarker {
  durable: true;
  generation: number;
}

export class CowDisk {
  readonly byteLength: number;
  onload: ((event: object) => void) | undefined;
  onprogress: ((event: object) => void) | undefined;
  private fd: number | null;
  /** A copy of the overlay kept ready for a move (stageOverlay). */
  private staged: {
    store: OverlayStore & { readonly path: string };
    generation: number;
    blockCount: number;
  } | null = null;

  constructor(
    readonly basePath: string,
    private overlayStore: OverlayStore = new MemoryOverlay(),
  ) {
    this.fd = openSync(basePath, 'r');
    this.byteLength = fstatSync(this.fd).size;
    if (this.byteLength % COW_BLOCK_SIZE !== 0) {
      closeSync(this.fd);
      throw new Error(
        `${basePath}: size ${this.byteLength} is not a multiple of ${COW_BLOCK_SIZE}`,
      );
    }
  }

  load(): void {
    this.onload?.(Object.create(null));
  }

  get overlay(): OverlayStore {
    return this.overlayStore;
  }

  report(): DiskReport {
    return {
      kind: this.overlayStore.kind,
      overlayBytes: this.overlayBytes,
      fileBytes: this.overlayStore.fileBytes,
      generation: this.overlayStore.generation,
    };
  }

  /** Closes the base image and the overlay; settle() first when writes may be in flight. */
  close(): void {
    this.discardStagedOverlay();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.overlayStore.close();
  }

  /** Resolves once every acknowledged write is durable and no commit is in flight. */
  async settle(): Promise<void> {
    for (;;) {
      const pending = this.overlayStore.commit();
      if (!pending) return;
      await pending;
    }
  }

  /**
   * Moves this disk onto another store, copying what was written so far (a standby VM that
   * becomes someone's personal desktop moves from memory to its durable overlay). Call it while
   * the VM is paused.
   */
  async moveOverlay(target: OverlayStore): Promise<void> {
    await this.settle();
    target.writeBlocks([...this.overlayStore.entries()]);
    await target.commit();
    const previous = this.overlayStore;
    this.overlayStore = target;
    previous.close();
  }

  /**
   * Copies what was written so far to `target` and keeps it aside, so a later move onto it
   * (`adoptStagedOverlay`) needs no copy and no sync: a paused standby VM stages its personal
   * disk before anyone claims it. Replaces an earlier staged store.
   */
  async stageOverlay(target: OverlayStore & { readonly path: string }): Promise<void> {
    await this.settle();
    this.discardStagedOverlay();
    // A file left from elsewhere must not add blocks this disk never wrote.
    if (target.blockCount > 0) target.clear();
    target.writeBlocks([...this.overlayStore.entries()]);
    await target.commit();
    this.staged = {
      store: target,
      generation: this.overlayStore.generation,
      blockCount: this.overlayStore.blockCount,
    };
  }

  /**
   * Moves onto the staged store if nothing was written since it was staged; otherwise empties
   * and drops it (its file then holds no stale block) and returns false: `moveOverlay` copies.
   */
  adoptStagedOverlay(path: string): boolean {
    const staged = this.staged;
    if (!staged) return false;
    const unchanged =
      staged.store.path === path &&
      staged.generation === this.overlayStore.generation &&
      staged.blockCount === this.overlayStore.blockCount;
    if (!unchanged) {
      this.discardStagedOverlay();
      return false;
    }
    this.staged = null;
    const previous = this.overlayStore;
    this.overlayStore = staged.store;
    previous.close();
    return true;
  }

  /** Empties and closes the staged store, if any (the standby was claimed as another kind). */
  discardStagedOverlay(): void {
    if (!this.staged) return;
    this.staged.store.clear();
    this.staged.store.close();
    this.staged = null;
  }

  /** Every written block with its content (a memory overlay relocated or cloned). */
  exportBlocks(): { blocks: Uint32Array; data: Uint8Array } {
    const entries = [...this.overlayStore.entries()];
    const data = new Uint8Array(entries.length * COW_BLOCK_SIZE);
    entries.forEach(([, block], i) => data.set(block, i * COW_BLOCK_SIZE));
    return { blocks: Uint32Array.from(entries, ([index]) => index), data };
  }

  /** Stores blocks exported by `exportBlocks` on another host. */
  importBlocks({ blocks, data }: { blocks: Uint32Array; data: Uint8Array }): void {
    if (data.length !== blocks.length * COW_BLOCK_SIZE) throw new Error('disk blocks truncated');
    this.overlayStore.writeBlocks(
      Array.from(blocks, (index, i) => [
        index,
        data.slice(i * COW_BLOCK_SIZE, (i + 1) * COW_BLOCK_SIZE),
      ]),
    );
  }

  /** Bytes the overlay holds, i.e. what this VM has written. */
  get overlayBytes(): number {
    return this.overlayStore.blockCount * COW_BLOCK_SIZE;
  }

  get(start: number, length: number, callback: (data: Uint8Array) => void): void {
    callback(this.read(start, length));
  }

  // v86's IDE asks the cache first and falls back to get_and_cache; a local file is always
  // "cached" because reads are synchronous.
  get_and_cache(start: number, length: number, callback: (data: Uint8Array) => void): void {
    callback(this.read(start, length));
  }

  get_from_cache(start: number, length: number): Uint8Array {
    return this.read(start, length);
  }

  read(start: number, length: number): Uint8Array {
    this.checkRange(start, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const offset = start + done;
      const block = Math.floor(offset / COW_BLOCK_SIZE);
      const within = offset - block * COW_BLOCK_SIZE;
      const count = Math.min(COW_BLOCK_SIZE - within, length - done);
      const written = this.overlayStore.read(block);
      if (written) {
        out.set(written.subarray(within, within + count), done);
      } else {
        this.readBase(out, done, count, offset);
      }
      done += count;
    }
    return out;
  }

  /**
   * v86's IDE raises the write-completion interrupt from `callback`, so calling it only once the
   * overlay has committed means the guest never sees a write complete that is not durable.
   */
  set(start: number, data: Uint8Array, callback: () => void): void {
    this.write(start, data);
    const committed = this.overlayStore.commit();
    if (!committed) {
      callback();
      return;
    }
    committed.then(callback, (error: unknown) => {
      // Not acknowledging is the only safe answer; the worker dies and the host sees a crash.
      queueMicrotask(() => {
        throw error;
      });
    });
  }

  write(start: number, data: Uint8Array): void {
    this.checkRange(start, data.length);
    const blocks: [number, Uint8Array][] = [];
    let done = 0;
    while (done < data.length) {
      const offset = start + done;
      const block = Math.floor(offset / COW_BLOCK_SIZE);
      const within = offset - block * COW_BLOCK_SIZE;
      const count = Math.min(COW_BLOCK_SIZE - within, data.length - done);
      let target = this.overlayStore.read(block);
      if (!target) {
        // First write to this block: start from the base content (read-modify-write).
        target = new Uint8Array(COW_BLOCK_SIZE);
        if (count < COW_BLOCK_SIZE)
          this.readBase(target, 0, COW_BLOCK_SIZE, block * COW_BLOCK_SIZE);
      } else {
        target = target.slice();
      }
      target.set(data.subarray(done, done + count), within);
      blocks.push([block, target]);
      done += count;
    }
    this.overlayStore.writeBlocks(blocks);
  }

  /** v86 asks for this only to export a whole disk; not supported for shared bases. */
  get_buffer(callback: (buffer: ArrayBuffer | undefined) => void): void {
    callback(undefined);
  }

  /**
   * Saved with the VM state: the written blocks only, never the base. A durable overlay keeps
   * its blocks in its own file, so the state records only which generation of it matches.
   */
  get_state(): [number, Uint8Array, string] {
    if (this.overlayStore.kind === 'durable') {
      const marker: DurableDiskMarker = { durable: true, generation: this.overlayStore.generation };
      return [this.byteLength, new Uint8Array(0), JSON.stringify(marker)];
    }
    const entries = [...this.overlayStore.entries()].sort((a, b) => a[0] - b[0]);
    const packed = new Uint8Array(entries.length * (4 + COW_BLOCK_SIZE));
    const view = new DataView(packed.buffer);
    entries.forEach(([block, data], i) => {
      const at = i * (4 + COW_BLOCK_SIZE);
      view.setUint32(at, block, true);
      packed.set(data, at + 4);
    });
    return [this.byteLength, packed, ''];
  }

  set_state(state: [number, Uint8Array, string?]): void {
    const [byteLength, packed, markerJson] = state;
    if (byteLength !== this.byteLength) {
      throw new Error(
        `saved disk is ${byteLength} bytes but base image ${this.basePath} is ${this.byteLength}`,
      );
    }
    if (markerJson) {
      const marker = JSON.parse(markerJson) as DurableDiskMarker;
      if (this.overlayStore.kind !== 'durable') {
        throw new Error('this state was saved with a durable disk; restore it with its overlay');
      }
      if (marker.generation !== this.overlayStore.generation) {
        throw new Error(
          `the disk overlay is at write ${this.overlayStore.generation} but the saved state ` +
            `expects write ${marker.generation}: the disk changed after the state was saved, and ` +
            `resuming that memory over it would corrupt the file system`,
        );
      }
      return;
    }
    if (this.overlayStore.kind === 'durable' && this.overlayStore.blockCount > 0) {
      throw new Error(
        "refusing to replace a personal disk's contents with a snapshot's: boot it instead",
      );
    }
    this.overlayStore.clear();
    const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    const blocks: [number, Uint8Array][] = [];
    for (let at = 0; at < packed.length; at += 4 + COW_BLOCK_SIZE) {
      blocks.push([view.getUint32(at, true), packed.slice(at + 4, at + 4 + COW_BLOCK_SIZE)]);
    }
    this.overlayStore.writeBlocks(blocks);
  }

  private readBase(target: Uint8Array, targetOffset: number, length: number, position: number) {
    if (this.fd === null) throw new Error('disk is closed');
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, target, targetOffset + done, length - done, position + done);
      if (n === 0) throw new Error(`short read from ${this.basePath} at ${position + done}`);
      done += n;
    }
  }

  private checkRange(start: number, length: number): void {
    if (start < 0 || length < 0 || start + length > this.byteLength) {
      throw new RangeError(`disk access ${start}+${length} outside 0..${this.byteLength}`);
    }
  }
}
