// The gateway's recordings folder (RECORDING_DIR, default data/recordings): starts a recorder
// for each session whose policy asks for it, reports recordings to the portal, serves their
// index and bytes to the portal's admin routes, deletes them, and applies retention (age and
// total size). A recording the gateway did not finish (it was killed) is closed at the next
// start: its partial tail is cut and an end record appended, so it plays to its last frame.
import { mkdirSync, openSync, readSync, closeSync, ftruncateSync, writeSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  decodeRecords,
  encodeEnd,
  parseKeyframeIndex,
  RECORD_HEADER_BYTES,
  RECORD_TYPES,
  RECORDING_FILE_SUFFIX,
  RECORDING_MAGIC,
  recordingIdSchema,
  type RecordingEvent,
  type RecordingIndex,
  type RecordingStart,
} from '../protocol/recording.ts';
import { SessionRecorder, type RecorderOptions } from './recorder.ts';

export interface RecordingStoreOptions extends RecorderOptions {
  dir: string;
  gatewayId: string;
  /** Recordings older than this are deleted; 0 keeps them. */
  retentionDays: number;
  /** The oldest recordings are deleted while all of them take more; 0: no cap. */
  maxTotalBytes: number;
  /** How often retention runs, ms. */
  sweepMs?: number;
}

export type RecordingReporter = (event: RecordingEvent) => void;

/** What a scan of a file's records found. */
interface FileScan {
  start: RecordingStart;
  /** Offset after the last complete record. */
  end: number;
  lastT: number;
  ended: boolean;
}

export class RecordingStore {
  private readonly active = new Map<string, SessionRecorder>();
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly options: RecordingStoreOptions,
    private readonly report: RecordingReporter,
    private readonly log: Logger,
  ) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  }

  pathOf(id: string): string {
    return join(this.options.dir, `${recordingIdSchema.parse(id)}${RECORDING_FILE_SUFFIX}`);
  }

  /** Closes what a killed gateway left open, applies retention, and keeps applying it. */
  async open(): Promise<void> {
    await this.recoverUnfinished();
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.options.sweepMs ?? 3_600_000);
    this.sweepTimer.unref();
  }

  begin(start: Omit<RecordingStart, 'version' | 'gatewayId' | 'startedAt'>): SessionRecorder {
    const meta: RecordingStart = {
      version: 1,
      gatewayId: this.options.gatewayId,
      startedAt: new Date().toISOString(),
      ...start,
    };
    const path = this.pathOf(meta.id);
    const recorder = new SessionRecorder(path, meta, this.options);
    this.active.set(meta.id, recorder);
    this.report({ type: 'started', start: meta, path });
    return recorder;
  }

  finish(recorder: SessionRecorder, reason: string): void {
    if (recorder.closed) return;
    const summary = recorder.close(reason);
    this.active.delete(recorder.start.id);
    this.report({
      type: 'ended',
      id: recorder.start.id,
      start: recorder.start,
      path: recorder.path,
      endedAt: summary.endedAt.toISOString(),
      durationMs: summary.durationMs,
      sizeBytes: summary.sizeBytes,
    });
  }

  /** Reads the record headers from `from` (a record boundary) to the last complete record. */
  private scanFile(path: string, from?: number): FileScan {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(64 * 1024);
      const n = readSync(fd, head, 0, head.length, 0);
      const first = decodeRecords(head.subarray(0, n), 0).records[0];
      if (!first || first.type !== 'start') throw new Error(`${path}: no start record`);
      const scan: FileScan = { start: first.meta, end: 0, lastT: 0, ended: false };
      let at = from ?? RECORDING_MAGIC.length;
      const header = Buffer.alloc(RECORD_HEADER_BYTES);
      for (;;) {
        if (readSync(fd, header, 0, RECORD_HEADER_BYTES, at) < RECORD_HEADER_BYTES) break;
        const size = header.readUInt32LE(0) + 4;
        if (size < RECORD_HEADER_BYTES) break;
        // Complete only if its last byte is in the file.
        if (readSync(fd, Buffer.alloc(1), 0, 1, at + size - 1) < 1) break;
        scan.lastT = header.readUInt32LE(5);
        if (header.readUInt8(4) === RECORD_TYPES.end) scan.ended = true;
        at += size;
      }
      scan.end = at;
      return scan;
    } finally {
      closeSync(fd);
    }
  }

  /** The player's index: its start, size, duration and keyframes. Null if there is none. */
  async index(id: string): Promise<RecordingIndex | null> {
    const path = this.pathOf(id);
    const exists = await stat(path).catch(() => null);
    if (!exists) return null;
    const idx = await readFile(`${path}.idx`, 'utf8').catch(() => '');
    let keyframes = parseKeyframeIndex(idx, exists.size);
    // The index is a convenience: without one, find the starting points by reading the file.
    if (keyframes.length === 0) keyframes = await this.keyframesByReading(path);
    const scan = this.scanFile(path, keyframes.at(-1)?.offset);
    return {
      id,
      start: scan.start,
      size: scan.end,
      durationMs: scan.lastT,
      complete: scan.ended,
      keyframes: keyframes.filter((k) => k.offset < scan.end),
    };
  }

  private async keyframesByReading(path: string): Promise<RecordingIndex['keyframes']> {
    const bytes = new Uint8Array(await readFile(path));
    return decodeRecords(bytes, 0)
      .records.filter(
        (r) => r.type === 'keyframe' || (r.type === 'frame' && r.frame.full && r.frame.part === 0),
      )
      .map((r) => ({ t: r.t, offset: r.offset }));
  }

  /** Bytes [from, to) of a recording, clamped to its size; null if there is no such recording. */
  async read(id: string, from: number, to: number): Promise<Buffer | null> {
    const path = this.pathOf(id);
    const info = await stat(path).catch(() => null);
    if (!info) return null;
    const end = Math.min(to, info.size);
    if (from >= end) return Buffer.alloc(0);
    const fd = openSync(path, 'r');
    try {
      const out = Buffer.alloc(end - from);
      let done = 0;
      while (done < out.length) {
        const n = readSync(fd, out, done, out.length - done, from + done);
        if (n === 0) break;
        done += n;
      }
      return out.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes a recording's files (a live one is stopped first). False if there was none. */
  async remove(id: string, reason: 'age' | 'total-size' | 'admin'): Promise<boolean> {
    const path = this.pathOf(id);
    const live = this.active.get(id);
    if (live) {
      live.close('deleted');
      this.active.delete(id);
    }
    const existed = (await stat(path).catch(() => null)) !== null;
    await rm(path, { force: true });
    await rm(`${path}.idx`, { force: true });
    if (existed) this.report({ type: 'deleted', id, reason });
    return existed;
  }

  private async files(): Promise<{ id: string; path: string; mtimeMs: number; size: number }[]> {
    const names = await readdir(this.options.dir).catch(() => [] as string[]);
    const out = [];
    for (const name of names) {
      if (!name.endsWith(RECORDING_FILE_SUFFIX)) continue;
      const id = name.slice(0, -RECORDING_FILE_SUFFIX.length);
      if (!recordingIdSchema.safeParse(id).success) continue;
      const path = join(this.options.dir, name);
      const info = await stat(path).catch(() => null);
      if (!info) continue;
      const idx = await stat(`${path}.idx`).catch(() => null);
      out.push({ id, path, mtimeMs: info.mtimeMs, size: info.size + (idx?.size ?? 0) });
    }
    return out;
  }

  /** Retention: deletes recordings past their age, then the oldest while over the size cap. */
  async sweep(now = Date.now()): Promise<string[]> {
    const { retentionDays, maxTotalBytes } = this.options;
    const files = (await this.files()).sort((a, b) => a.mtimeMs - b.mtimeMs);
    const deleted: string[] = [];
    let total = files.reduce((n, f) => n + f.size, 0);
    for (const f of files) {
      if (this.active.has(f.id)) continue;
      const old = retentionDays > 0 && now - f.mtimeMs > retentionDays * 86_400_000;
      const over = maxTotalBytes > 0 && total > maxTotalBytes;
      if (!old && !over) continue;
      await this.remove(f.id, old ? 'age' : 'total-size');
      total -= f.size;
      deleted.push(f.id);
    }
    if (deleted.length) this.log.info({ deleted: deleted.length }, 'recording retention');
    return deleted;
  }

  /** Files without an end record (the gateway was killed): cut the partial tail, close them. */
  private async recoverUnfinished(): Promise<void> {
    for (const f of await this.files()) {
      if (this.active.has(f.id)) continue;
      let scan: FileScan;
      try {
        scan = this.scanFile(f.path);
      } catch (error) {
        this.log.warn({ path: f.path, err: String(error) }, 'unreadable recording left as is');
        continue;
      }
      if (scan.ended) continue;
      const fd = openSync(f.path, 'r+');
      try {
        ftruncateSync(fd, scan.end);
        const end = encodeEnd(scan.lastT, 'gateway-stopped');
        writeSync(fd, end, 0, end.byteLength, scan.end);
      } finally {
        closeSync(fd);
      }
      const sizeBytes = scan.end + encodeEnd(scan.lastT, 'gateway-stopped').byteLength;
      this.log.info({ id: f.id }, 'closed a recording the gateway did not finish');
      this.report({
        type: 'ended',
        id: f.id,
        start: scan.start,
        path: f.path,
        endedAt: new Date(new Date(scan.start.startedAt).getTime() + scan.lastT).toISOString(),
        durationMs: scan.lastT,
        sizeBytes,
      });
    }
  }

  /** Stops every live recording (gateway shutdown). */
  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const recorder of [...this.active.values()]) this.finish(recorder, 'gateway-shutdown');
  }
}
