// The canvas painter: applies display updates in arrival order. Each update's rects decode in
// parallel; painting waits for the previous update, so order is kept across messages.
import type { DisplayUpdate } from '@raydesk/gateway/protocol';
import { DECODERS, type Paint } from './decoders.ts';

export class Display {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private chain: Promise<void> = Promise.resolve();
  private generation = 0;
  width = 0;
  height = 0;

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const ctx = canvas.getContext('2d', { alpha: false, desynchronized: true });
    if (!ctx) throw new Error('2d canvas unavailable');
    this.ctx = ctx;
  }

  resize(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.canvas.width = width;
    this.canvas.height = height;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, width, height);
  }

  /** The picture as it is now, for an update's copies to read while the update paints. */
  private snapshot(): CanvasImageSource {
    const { width, height } = this.canvas;
    if (!this.before || this.before.width !== width || this.before.height !== height) {
      this.before = new OffscreenCanvas(width, height);
      this.beforeCtx = this.before.getContext('2d', { alpha: false });
    }
    this.beforeCtx!.drawImage(this.canvas, 0, 0);
    return this.before;
  }
  private before: OffscreenCanvas | null = null;
  private beforeCtx: OffscreenCanvasRenderingContext2D | null = null;

  /** Drops queued paints (after a reconnect the next full frame repaints everything). */
  reset(): void {
    this.generation++;
    this.chain = Promise.resolve();
  }

  /** Resolves when this update is painted (after every earlier one). */
  apply(update: DisplayUpdate): Promise<void> {
    const generation = this.generation;
    if (update.width !== this.width || update.height !== this.height)
      this.resize(update.width, update.height);
    const decoded = Promise.all(
      update.rects.map((rect) =>
        Promise.resolve()
          .then(() => DECODERS[rect.enc].decode(rect))
          .catch((): Paint | null => null),
      ),
    );
    const hasCopies = update.rects.some((rect) => rect.enc === 'copy');
    const painted = this.chain.then(async () => {
      const paints = await decoded;
      if (generation !== this.generation) return;
      const before = hasCopies ? this.snapshot() : null;
      for (const paint of paints) if (paint) paint(this.ctx, before);
    });
    this.chain = painted.catch(() => undefined);
    return painted;
  }
}
