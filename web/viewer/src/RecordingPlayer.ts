// Plays a session recording (format: @raydesk/gateway/recording) onto a canvas with the live
// viewer's painter and decoders (Display.ts, decoders.ts): play, pause, seek, speed. A seek
// reads from the keyframe at or before the target and paints up to the target; playing reads
// the file a segment at a time ahead of the play position.
import {
  decodeRecords,
  keyframeBefore,
  type RecordingIndex,
  type RecordingRecord,
} from '@raydesk/gateway/recording';
import { Display } from './Display.ts';

export interface RecordingSource {
  index: RecordingIndex;
  /** Bytes [from, to) of the file (the portal's admin route). */
  read(from: number, to: number): Promise<Uint8Array>;
}

export type PlayerState = 'paused' | 'playing' | 'ended';

const SEGMENT_BYTES = 2 * 1024 * 1024;
const TICK_MS = 15;

export class RecordingPlayer {
  readonly display: Display;
  state: PlayerState = 'paused';
  speed = 1;
  /** Media time shown, ms since the recording started. */
  position = 0;
  /** Called when position or state changes. */
  onChange: (() => void) | null = null;

  /** Decoded records not yet painted, in file order, and where reading goes on. */
  private queue: RecordingRecord[] = [];
  private nextOffset = 0;
  private reading: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private clock = { wall: 0, media: 0 };
  /** Bumped by every seek, so an older seek or tick stops when a newer one starts. */
  private epoch = 0;

  constructor(
    canvas: HTMLCanvasElement,
    private readonly source: RecordingSource,
  ) {
    this.display = new Display(canvas);
    const { width, height } = source.index.start;
    this.display.resize(width, height);
  }

  get durationMs(): number {
    return this.source.index.durationMs;
  }

  private changed(): void {
    this.onChange?.();
  }

  /** Reads the next segment after what is queued; false at the end of the file. */
  private async readMore(epoch: number): Promise<boolean> {
    const size = this.source.index.size;
    if (this.nextOffset >= size) return false;
    let length = SEGMENT_BYTES;
    for (;;) {
      const from = this.nextOffset;
      const to = Math.min(size, from + length);
      const bytes = await this.source.read(from, to);
      if (epoch !== this.epoch) return true;
      const { records, end } = decodeRecords(bytes, from);
      if (records.length > 0 || to >= size) {
        this.queue.push(...records);
        this.nextOffset = records.length > 0 ? end : size;
        return records.length > 0;
      }
      length *= 2; // one record larger than the segment (a big keyframe)
    }
  }

  private fill(epoch: number): Promise<void> {
    this.reading ??= this.readMore(epoch)
      .then(() => undefined)
      .finally(() => (this.reading = null));
    return this.reading;
  }

  /** Paints one record; keyframes only when `keyframes` (a seek's start): in play they repeat. */
  private paint(record: RecordingRecord, keyframes: boolean): Promise<void> | null {
    if (record.type === 'resize') {
      this.display.resize(record.meta.width, record.meta.height);
      return null;
    }
    if (record.type === 'frame' || (record.type === 'keyframe' && keyframes))
      return this.display.apply(record.frame);
    return null;
  }

  /** Shows the picture at `t` (ms): paints from the keyframe before it up to it. */
  async seek(t: number): Promise<void> {
    const epoch = ++this.epoch;
    const wasPlaying = this.state === 'playing';
    this.stopTimer();
    const target = Math.max(0, Math.min(t, this.durationMs));
    const keyframe = keyframeBefore(this.source.index.keyframes, target) ??
      this.source.index.keyframes[0] ?? { t: 0, offset: 8 };
    this.display.reset();
    this.queue = [];
    this.nextOffset = keyframe.offset;
    await this.reading?.catch(() => undefined);
    let last: Promise<void> | null = null;
    let first = true;
    for (;;) {
      while (this.queue.length && this.queue[0]!.t <= target) {
        const record = this.queue.shift()!;
        last = this.paint(record, first) ?? last;
        first = false;
      }
      if (this.queue.length) break;
      if (!(await this.readMore(epoch)) || epoch !== this.epoch) break;
    }
    await last;
    if (epoch !== this.epoch) return;
    this.position = target;
    if (this.state === 'ended' && target < this.durationMs) this.state = 'paused';
    this.changed();
    if (wasPlaying) this.play();
  }

  play(): void {
    if (this.state === 'playing') return;
    if (this.position >= this.durationMs) {
      void this.seek(0).then(() => this.play());
      return;
    }
    this.state = 'playing';
    this.clock = { wall: performance.now(), media: this.position };
    this.changed();
    this.tick(this.epoch);
  }

  pause(): void {
    if (this.state !== 'playing') return;
    this.stopTimer();
    this.state = 'paused';
    this.changed();
  }

  setSpeed(speed: number): void {
    if (this.state === 'playing') this.clock = { wall: performance.now(), media: this.position };
    this.speed = speed;
    this.changed();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(epoch: number): void {
    if (this.state !== 'playing' || epoch !== this.epoch) return;
    const media = this.clock.media + (performance.now() - this.clock.wall) * this.speed;
    while (this.queue.length && this.queue[0]!.t <= media)
      void this.paint(this.queue.shift()!, false)?.catch(() => undefined);
    this.position = Math.min(media, this.durationMs);
    const allRead = this.nextOffset >= this.source.index.size;
    if (this.queue.length < 64 && !allRead) void this.fill(epoch);
    if (!this.queue.length && allRead && !this.reading && media >= this.durationMs) {
      this.position = this.durationMs;
      this.state = 'ended';
      this.changed();
      return;
    }
    this.changed();
    this.timer = setTimeout(() => this.tick(epoch), TICK_MS);
  }

  close(): void {
    this.epoch++;
    this.stopTimer();
    this.display.reset();
  }
}
