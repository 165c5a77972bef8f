// Copy-on-write block device: the guest reads a shared, read-only base image and every write
// lands in a per-VM overlay of fixed-size blocks. It implements the block-backend interface
// v86's IDE controller calls (get/set/load/get_state/set_state), so v86 reads and writes
// through it directly.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const COW_BLOCK_SIZE = 4096;

/** Where a VM's written blocks live. In memory for now; a durable store can replace it. */
export interface OverlayStore {
  read(block: number): Uint8Array | undefined;
  write(block: number, data: Uint8Array): void;
  entries(): Iterable<[number, Uint8Array]>;
  clear(): void;
  readonly blockCount: number;
}

export class MemoryOverlay implements OverlayStore {
  private readonly blocks = new Map<number, Uint8Array>();
  read(block: number): Uint8Array | undefined {
    return this.blocks.get(block);
  }
  write(block: number, data: Uint8Array): void {
    this.blocks.set(block, data);
  }
  entries(): Iterable<[number, Uint8Array]> {
    return this.blocks.entries();
  }
  clear(): void {
    this.blocks.clear();
  }
  get blockCount(): number {
    return this.blocks.size;
  }
}

export class CowDisk {
  readonly byteLength: number;
  onload: ((event: object) => void) | undefined;
  onprogress: ((event: object) => void) | undefined;
  private fd: number | null;

  constructor(
    readonly basePath: string,
    readonly overlay: OverlayStore = new MemoryOverlay(),
  ) {
    this.fd = openSync(basePath, 'r');
    this.byteLength = fstatSync(this.fd).size;
    if (this.byteLength % COW_BLOCK_SIZE !== 0) {
      closeSync(this.fd);
      throw new Error(`${basePath}: size ${this.byteLength} is not a multiple of ${COW_BLOCK_SIZE}`);
    }
  }

  load(): void {
    this.onload?.(Object.create(null));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Bytes the overlay holds, i.e. what this VM has written. */
  get overlayBytes(): number {
    return this.overlay.blockCount * COW_BLOCK_SIZE;
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
      const written = this.overlay.read(block);
      if (written) {
        out.set(written.subarray(within, within + count), done);
      } else {
        this.readBase(out, done, count, offset);
      }
      done += count;
    }
    return out;
  }

  set(start: number, data: Uint8Array, callback: () => void): void {
    this.write(start, data);
    callback();
  }

  write(start: number, data: Uint8Array): void {
    this.checkRange(start, data.length);
    let done = 0;
    while (done < data.length) {
      const offset = start + done;
      const block = Math.floor(offset / COW_BLOCK_SIZE);
      const within = offset - block * COW_BLOCK_SIZE;
      const count = Math.min(COW_BLOCK_SIZE - within, data.length - done);
      let target = this.overlay.read(block);
      if (!target) {
        // First write to this block: start from the base content (read-modify-write).
        target = new Uint8Array(COW_BLOCK_SIZE);
        if (count < COW_BLOCK_SIZE) this.readBase(target, 0, COW_BLOCK_SIZE, block * COW_BLOCK_SIZE);
      } else {
        target = target.slice();
      }
      target.set(data.subarray(done, done + count), within);
      this.overlay.write(block, target);
      done += count;
    }
  }

  /** v86 asks for this only to export a whole disk; not supported for shared bases. */
  get_buffer(callback: (buffer: ArrayBuffer | undefined) => void): void {
    callback(undefined);
  }

  /** Saved with the VM state: the written blocks only, never the base. */
  get_state(): [number, Uint8Array] {
    const entries = [...this.overlay.entries()].sort((a, b) => a[0] - b[0]);
    const packed = new Uint8Array(entries.length * (4 + COW_BLOCK_SIZE));
    const view = new DataView(packed.buffer);
    entries.forEach(([block, data], i) => {
      const at = i * (4 + COW_BLOCK_SIZE);
      view.setUint32(at, block, true);
      packed.set(data, at + 4);
    });
    return [this.byteLength, packed];
  }

  set_state(state: [number, Uint8Array]): void {
    const [byteLength, packed] = state;
    if (byteLength !== this.byteLength) {
      throw new Error(
        `saved disk is ${byteLength} bytes but base image ${this.basePath} is ${this.byteLength}`,
      );
    }
    this.overlay.clear();
    const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    for (let at = 0; at < packed.length; at += 4 + COW_BLOCK_SIZE) {
      const block = view.getUint32(at, true);
      this.overlay.write(block, packed.slice(at + 4, at + 4 + COW_BLOCK_SIZE));
    }
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
