// A personal VM's overlay on the host disk: an append-only log of checksummed 4 KiB block
// records behind a header that names the base image.
//
// Guarantee (README "Personal disks"): a guest write is acknowledged to the guest (its DMA
// completion interrupt) only after the records holding it are fdatasync'ed, so every write
// the guest saw complete survives a kill -9 of the daemon or a host power cut. After a crash
// the log is replayed up to the first record that is incomplete or fails its checksum and cut
// there: what remains is exactly the acknowledged writes (plus possibly later ones, in order),
// so every block reads either its old or its new content, never garbage.
import {
  closeSync,
  existsSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { COW_BLOCK_SIZE, type OverlayBase, type OverlayStore } from './overlay-store.ts';
import {
  OVERLAY_HEADER_BYTES,
  assertOverlayBase,
  encodeOverlayHeader,
  newOverlayHeader,
  type OverlayHeader,
} from './overlay-format.ts';
import { PRIVATE_FILE_MODE } from '../../../private-files.ts';

const RECORD_MAGIC = 0x52444231; // "RDB1"
// magic u32 | block u32 | generation u64 | crc32 u32 | reserved u32 | data
const RECORD_HEAD_BYTES = 24;
export const OVERLAY_RECORD_BYTES = RECORD_HEAD_BYTES + COW_BLOCK_SIZE;
const REPLAY_CHUNK_RECORDS = 256;
// Compact on open when superseded records outnumber live ones and waste at least this much.
const COMPACT_MIN_WASTE_BYTES = 16 * 1024 * 1024;

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    done += writeSync(fd, data, done, data.length - done, position + done);
  }
}

function readAll(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Makes a rename or a new file in `dir` durable. */
function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function recordChecksum(record: Buffer): number {
  return crc32(record.subarray(RECORD_HEAD_BYTES), crc32(record.subarray(0, 16)));
}

export interface ReplayReport {
  /** Valid records found in the log. */
  records: number;
  /** Bytes cut from the end: a record that was being written when the daemon died. */
  tornBytes: number;
  /** Whether the log was rewritten without superseded records. */
  compacted: boolean;
}

export class DurableOverlay implements OverlayStore {
  readonly kind = 'durable';
  readonly header: OverlayHeader;
  readonly replay: ReplayReport;
  private fd: number;
  /** Block number → file offset of its newest record. */
  private readonly index = new Map<number, number>();
  private end = OVERLAY_HEADER_BYTES;
  private writes = 0;
  private dirty = false;
  private syncing: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  /** Opens the overlay at `path`, creating it for `base` if it does not exist. */
  static open(path: string, base: OverlayBase, domainId: string): DurableOverlay {
    if (!existsSync(path)) {
      const header = newOverlayHeader(base, domainId);
      const tmp = `${path}.new`;
      const fd = openSync(tmp, 'w', PRIVATE_FILE_MODE);
      try {
        writeAll(fd, encodeOverlayHeader(header), 0);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      fsyncDirectory(dirname(path));
    }
    return new DurableOverlay(path, base);
  }

  private constructor(
    readonly path: string,
    base: OverlayBase,
  ) {
    this.header = assertOverlayBase(path, base);
    this.fd = openSync(path, 'r+');
    const { records, tornBytes } = this.replayLog();
    const wasted = (records - this.index.size) * OVERLAY_RECORD_BYTES;
    const compacted = wasted >= COMPACT_MIN_WASTE_BYTES && records > 2 * this.index.size;
    if (compacted) this.compact();
    this.replay = { records, tornBytes, compacted };
  }

  get blockCount(): number {
    return this.index.size;
  }
  get generation(): number {
    return this.writes;
  }
  /** Bytes the log file takes on the host disk. */
  get fileBytes(): number {
    return this.end;
  }

  read(block: number): Uint8Array | undefined {
    const at = this.index.get(block);
    if (at === undefined) return undefined;
    const data = new Uint8Array(COW_BLOCK_SIZE);
    if (readAll(this.fd, data, at + RECORD_HEAD_BYTES) !== COW_BLOCK_SIZE) {
      throw new Error(`${this.path}: short read of block ${block} at ${at}`);
    }
    return data;
  }

  writeBlocks(blocks: ReadonlyArray<readonly [number, Uint8Array]>): void {
    if (blocks.length === 0) return;
    const batch = Buffer.alloc(blocks.length * OVERLAY_RECORD_BYTES);
    blocks.forEach(([block, data], i) => {
      if (data.length !== COW_BLOCK_SIZE) throw new RangeError(`block ${block} is not 4 KiB`);
      const record = batch.subarray(i * OVERLAY_RECORD_BYTES, (i + 1) * OVERLAY_RECORD_BYTES);
      record.writeUInt32LE(RECORD_MAGIC, 0);
      record.writeUInt32LE(block, 4);
      record.writeBigUInt64LE(BigInt(this.writes + i + 1), 8);
      record.set(data, RECORD_HEAD_BYTES);
      record.writeUInt32LE(recordChecksum(record), 16);
    });
    writeAll(this.fd, batch, this.end);
    blocks.forEach(([block], i) => this.index.set(block, this.end + i * OVERLAY_RECORD_BYTES));
    this.end += batch.length;
    this.writes += blocks.length;
    this.dirty = true;
  }

  /** Group commit: one fdatasync covers every write made before it started. */
  commit(): Promise<void> | null {
    if (!this.dirty) return this.syncing;
    if (this.syncing) {
      this.queued ??= this.syncing.then(() => {
        this.queued = null;
        return this.startSync();
      });
      return this.queued;
    }
    return this.startSync();
  }

  /** Resolves once every write so far is durable and no sync is in flight. */
  async settle(): Promise<void> {
    for (;;) {
      const pending = this.commit() ?? this.queued ?? this.syncing;
      if (!pending) return;
      await pending;
    }
  }

  *entries(): Iterable<[number, Uint8Array]> {
    for (const block of [...this.index.keys()].sort((a, b) => a - b)) {
      yield [block, this.read(block)!];
    }
  }

  clear(): void {
    ftruncateSync(this.fd, OVERLAY_HEADER_BYTES);
    fsyncSync(this.fd);
    this.index.clear();
    this.end = OVERLAY_HEADER_BYTES;
    this.dirty = false;
  }

  /** Closes the log; callers settle() first so no fdatasync is in flight on the descriptor. */
  close(): void {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Rewrites the log with only the newest record of each block (crash-safe: write, sync, rename). */
  compact(): void {
    const tmp = `${this.path}.compact`;
    const out = openSync(tmp, 'w', PRIVATE_FILE_MODE);
    const offsets = new Map<number, number>();
    let end = OVERLAY_HEADER_BYTES;
    try {
      writeAll(out, encodeOverlayHeader(this.header), 0);
      const record = Buffer.alloc(OVERLAY_RECORD_BYTES);
      for (const block of [...this.index.keys()].sort((a, b) => a - b)) {
        readAll(this.fd, record, this.index.get(block)!);
        writeAll(out, record, end);
        offsets.set(block, end);
        end += OVERLAY_RECORD_BYTES;
      }
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, this.path);
    fsyncDirectory(dirname(this.path));
    closeSync(this.fd);
    this.fd = openSync(this.path, 'r+');
    this.index.clear();
    for (const [block, at] of offsets) this.index.set(block, at);
    this.end = end;
  }

  private startSync(): Promise<void> {
    this.dirty = false;
    const sync = new Promise<void>((resolve, reject) =>
      fdatasync(this.fd, (error) => (error ? reject(error) : resolve())),
    ).finally(() => {
      if (this.syncing === sync) this.syncing = null;
    });
    this.syncing = sync;
    return sync;
  }

  /** Rebuilds the index from the log and cuts a torn tail. */
  private replayLog(): { records: number; tornBytes: number } {
    const size = fstatSync(this.fd).size;
    const chunk = Buffer.alloc(REPLAY_CHUNK_RECORDS * OVERLAY_RECORD_BYTES);
    let at = OVERLAY_HEADER_BYTES;
    let records = 0;
    let maxGeneration = 0;
    scan: while (at < size) {
      const got = readAll(this.fd, chunk.subarray(0, Math.min(chunk.length, size - at)), at);
      for (let off = 0; off + OVERLAY_RECORD_BYTES <= got; off += OVERLAY_RECORD_BYTES) {
        const record = chunk.subarray(off, off + OVERLAY_RECORD_BYTES);
        if (
          record.readUInt32LE(0) !== RECORD_MAGIC ||
          record.readUInt32LE(16) !== recordChecksum(record)
        ) {
          break scan;
        }
        this.index.set(record.readUInt32LE(4), at);
        maxGeneration = Math.max(maxGeneration, Number(record.readBigUInt64LE(8)));
        records++;
        at += OVERLAY_RECORD_BYTES;
      }
      if (got < chunk.length) break; // the partial record at the end, if any, is torn
    }
    const tornBytes = size - at;
    if (tornBytes > 0) {
      ftruncateSync(this.fd, at);
      fsyncSync(this.fd);
    }
    this.end = at;
    this.writes = maxGeneration;
    return { records, tornBytes };
  }
}
