// One session's recording: appends the display updates a viewer was sent (the exact wire rects,
// with their time), its resizes and optionally its input to `<id>.rdrec` (format in
// protocol/recording.ts). Every `keyframeMs` (or `keyframeBytes` of updates) it adds a keyframe:
// a full picture of what the viewer has, painted from the rects it was sent, and lists it in
// `<id>.rdrec.idx`, so a player seeks without replaying from the start. Writes are appended at
// once (a killed gateway leaves every complete record readable) and fsync'd every `fsyncMs`.
import { closeSync, fsync, fsyncSync, openSync, appendFileSync, writeSync } from 'node:fs';
import { createCanvas, type Canvas } from 'canvas';
import { paintUpdate } from '../encoder/paint-canvas.ts';
import type { DisplayMode, DisplayUpdate, WireRect } from '../protocol/browser.ts';
import {
  encodeEnd,
  encodeFrame,
  encodeInput,
  encodeMagic,
  encodeResize,
  encodeStart,
  type RecordingStart,
} from '../protocol/recording.ts';

export interface RecorderOptions {
  keyframeMs: number;
  /** A keyframe also follows this many bytes of updates (a busy screen seeks as fast). */
  keyframeBytes: number;
  fsyncMs: number;
  /** Record the viewer's input events too. */
  input: boolean;
  /** Keyframes are PNG up to this size, JPEG beyond (photos, video). */
  keyframePngMaxBytes?: number;
}

export const DEFAULT_RECORDER_OPTIONS: RecorderOptions = {
  keyframeMs: 20_000,
  keyframeBytes: 4 * 1024 * 1024,
  fsyncMs: 5_000,
  input: false,
};

export interface RecordingSummary {
  durationMs: number;
  sizeBytes: number;
  endedAt: Date;
}

export class SessionRecorder {
  readonly startedAt: Date;
  private readonly fd: number;
  private size = 0;
  private readonly t0: number;
  private lastKeyframeT = 0;
  private bytesSinceKeyframe = 0;
  /**
   * Updates sent since the mirror was last brought up to date (painted at keyframe time), each
   * its own list: an update's copies read the picture from before it.
   */
  private pending: WireRect[][] = [];
  private mirror: Canvas | null = null;
  private mode: DisplayMode = 'graphical';
  private dirty = false;
  private fsyncTimer: NodeJS.Timeout;
  private closedSummary: RecordingSummary | null = null;
  /** Time spent writing and keyframing, ms (the bench's recording overhead). */
  costMs = 0;
  keyframes = 0;

  constructor(
    readonly path: string,
    readonly start: RecordingStart,
    private readonly options: RecorderOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = new Date(start.startedAt);
    this.t0 = this.startedAt.getTime();
    this.fd = openSync(path, 'ax', 0o600);
    appendFileSync(this.indexPath, '', { mode: 0o600 });
    this.append(encodeMagic());
    this.append(encodeStart(0, start));
    this.fsyncTimer = setInterval(() => this.sync(), options.fsyncMs);
    this.fsyncTimer.unref();
  }

  get indexPath(): string {
    return `${this.path}.idx`;
  }
  get bytes(): number {
    return this.size;
  }
  get closed(): boolean {
    return this.closedSummary !== null;
  }

  private elapsed(): number {
    return Math.max(0, this.now() - this.t0);
  }

  private append(bytes: Uint8Array): number {
    const offset = this.size;
    let written = 0;
    while (written < bytes.byteLength)
      written += writeSync(this.fd, bytes, written, bytes.byteLength - written);
    this.size += bytes.byteLength;
    this.dirty = true;
    return offset;
  }

  private indexAt(t: number, offset: number): void {
    appendFileSync(this.indexPath, `${JSON.stringify({ t, offset })}\n`);
  }

  resize(width: number, height: number, mode: DisplayMode): void {
    if (this.closed) return;
    const started = performance.now();
    this.append(encodeResize(this.elapsed(), { width, height, mode }));
    this.mode = mode;
    this.mirror = width > 0 && height > 0 ? createCanvas(width, height) : null;
    this.pending = [];
    this.costMs += performance.now() - started;
  }

  /** One `display:update` part as sent. */
  frame(update: DisplayUpdate): void {
    if (this.closed) return;
    const started = performance.now();
    const t = this.elapsed();
    const record = encodeFrame(t, update);
    const offset = this.append(record);
    if (!this.mirror || this.mirror.width !== update.width || this.mirror.height !== update.height)
      this.mirror = createCanvas(update.width, update.height);
    if (update.full && update.part === 0) {
      // A full update is a starting point too: everything before it is painted over.
      this.indexAt(t, offset);
      this.pending = [];
      this.lastKeyframeT = t;
      this.bytesSinceKeyframe = 0;
    }
    this.pending.push(update.rects);
    this.bytesSinceKeyframe += record.byteLength;
    if (
      update.last &&
      !update.full &&
      (t - this.lastKeyframeT >= this.options.keyframeMs ||
        this.bytesSinceKeyframe >= this.options.keyframeBytes)
    )
      this.keyframe(t);
    this.costMs += performance.now() - started;
  }

  /** An input event of the viewer (only with `options.input`). */
  input(event: string, data: Record<string, unknown>): void {
    if (this.closed || !this.options.input) return;
    this.append(encodeInput(this.elapsed(), event, data));
  }

  private paintPending(): Canvas | null {
    const mirror = this.mirror;
    if (!mirror) return null;
    const ctx = mirror.getContext('2d');
    for (const rects of this.pending) paintUpdate(ctx, rects);
    this.pending = [];
    return mirror;
  }

  private keyframe(t: number): void {
    const mirror = this.paintPending();
    if (!mirror) return;
    let data: Buffer = mirror.toBuffer('image/png', { compressionLevel: 3 });
    let enc: 'png' | 'jpeg' = 'png';
    if (data.byteLength > (this.options.keyframePngMaxBytes ?? 768 * 1024)) {
      data = mirror.toBuffer('image/jpeg', { quality: 0.9 });
      enc = 'jpeg';
    }
    const { width, height } = mirror;
    const rect: WireRect = { enc, x: 0, y: 0, w: width, h: height, data };
    const offset = this.append(
      encodeFrame(t, { width, height, full: true, rects: [rect] }, 'keyframe'),
    );
    this.indexAt(t, offset);
    this.keyframes++;
    this.lastKeyframeT = t;
    this.bytesSinceKeyframe = 0;
  }

  private sync(): void {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    fsync(this.fd, () => undefined);
  }

  /** Writes the end record and closes the file (idempotent). */
  close(reason: string): RecordingSummary {
    if (this.closedSummary) return this.closedSummary;
    clearInterval(this.fsyncTimer);
    const durationMs = this.elapsed();
    this.append(encodeEnd(durationMs, reason));
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.pending = [];
    this.mirror = null;
    this.closedSummary = {
      durationMs,
      sizeBytes: this.size,
      endedAt: new Date(this.t0 + durationMs),
    };
    return this.closedSummary;
  }

  get displayMode(): DisplayMode {
    return this.mode;
  }
}
