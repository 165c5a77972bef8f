// The naive baseline for bandwidth: every hypervisor frame of a scenario sent as one PNG of its
// whole dirty row band (full screen width, from the top of the highest changed tile to the bottom
// of the lowest), with node-canvas's default PNG settings. Frames are recorded from the
// hypervisor's display channel during the scenario and encoded afterwards, so the encoding does
// not load the machine while the real stack is being measured.
import { createCanvas } from 'canvas';
import type { DisplayFrame, HypervisorClient } from '@raydesk/hypervisor/api';

export class FrameTap {
  private frames: DisplayFrame[] = [];
  private recording = false;
  private width = 0;
  private height = 0;
  private screen = new Uint8ClampedArray(0);
  private readonly listener = (frame: DisplayFrame) => {
    if (frame.domainId !== this.domainId) return;
    if (this.recording) this.frames.push(frame);
    else this.apply(frame);
  };

  private constructor(
    private readonly client: HypervisorClient,
    private readonly domainId: string,
  ) {}

  /** Watches the domain on its own control connection; the first frame is a keyframe. */
  static async attach(client: HypervisorClient, domainId: string): Promise<FrameTap> {
    const tap = new FrameTap(client, domainId);
    client.socket.on('display:frame', tap.listener);
    await client.watch(domainId);
    const deadline = Date.now() + 30_000;
    while (!tap.width && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return tap;
  }

  start(): void {
    this.frames = [];
    this.recording = true;
  }

  /** Stops recording; returns the recorded frames (the mirror has not applied them yet). */
  stop(): DisplayFrame[] {
    this.recording = false;
    return this.frames;
  }

  async detach(): Promise<void> {
    this.client.socket.off('display:frame', this.listener);
    await this.client.unwatch(this.domainId).catch(() => undefined);
  }

  private apply(frame: DisplayFrame): void {
    if (frame.width !== this.width || frame.height !== this.height) {
      this.width = frame.width;
      this.height = frame.height;
      this.screen = new Uint8ClampedArray(frame.width * frame.height * 4);
    }
    const pixels = frame.pixels instanceof Uint8Array ? frame.pixels : new Uint8Array(frame.pixels);
    let offset = 0;
    for (const r of frame.rects) {
      for (let row = 0; row < r.h; row++) {
        const src = offset + row * r.w * 4;
        const dst = ((r.y + row) * this.width + r.x) * 4;
        this.screen.set(pixels.subarray(src, src + r.w * 4), dst);
      }
      offset += r.w * r.h * 4;
    }
  }

  /**
   * Applies the recorded frames in order and returns the PNG bytes of each one's row band.
   * `onScreen` sees the screen before the first frame and after each one.
   */
  encodeBands(
    frames: DisplayFrame[],
    onScreen?: (rgba: Uint8ClampedArray, width: number, height: number) => void,
  ): { bytes: number; frames: number } {
    let bytes = 0;
    let count = 0;
    onScreen?.(this.screen, this.width, this.height);
    for (const frame of frames) {
      this.apply(frame);
      onScreen?.(this.screen, this.width, this.height);
      if (!frame.rects.length) continue;
      const top = Math.min(...frame.rects.map((r) => r.y));
      const bottom = Math.max(...frame.rects.map((r) => r.y + r.h));
      const canvas = createCanvas(this.width, bottom - top);
      const ctx = canvas.getContext('2d');
      const image = ctx.createImageData(this.width, bottom - top);
      image.data.set(this.screen.subarray(top * this.width * 4, bottom * this.width * 4));
      ctx.putImageData(image, 0, 0);
      bytes += canvas.toBuffer('image/png').length;
      count++;
    }
    return { bytes, frames: count };
  }
}
