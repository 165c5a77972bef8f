// A test-side mirror of a guest screen, rebuilt from the display frames the hypervisor sends,
// with helpers to ask what colour a region is.
import type { DisplayFrame, TileRect } from '../src/api/index.ts';

export class ScreenMirror {
  width = 0;
  height = 0;
  rgba = new Uint8Array(0);

  apply(frame: DisplayFrame): void {
    if (frame.width !== this.width || frame.height !== this.height) {
      this.width = frame.width;
      this.height = frame.height;
      this.rgba = new Uint8Array(frame.width * frame.height * 4);
    }
    let offset = 0;
    for (const rect of frame.rects) {
      for (let row = 0; row < rect.h; row++) {
        const source = frame.pixels.subarray(
          offset + row * rect.w * 4,
          offset + (row + 1) * rect.w * 4,
        );
        this.rgba.set(source, ((rect.y + row) * this.width + rect.x) * 4);
      }
      offset += rect.w * rect.h * 4;
    }
  }

  pixel(x: number, y: number): [number, number, number] {
    const i = (y * this.width + x) * 4;
    return [this.rgba[i]!, this.rgba[i + 1]!, this.rgba[i + 2]!];
  }

  /** The most common colour in a region and the share of pixels that have it. */
  dominant(region: TileRect): { color: [number, number, number]; share: number } {
    const counts = new Map<number, number>();
    for (let y = region.y; y < region.y + region.h; y++) {
      for (let x = region.x; x < region.x + region.w; x++) {
        const [r, g, b] = this.pixel(x, y);
        const key = (r << 16) | (g << 8) | b;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best = 0;
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount) [best, bestCount] = [key, count];
    }
    return {
      color: [(best >> 16) & 255, (best >> 8) & 255, best & 255],
      share: bestCount / (region.w * region.h),
    };
  }

  /** Bytes of a region, for before/after comparisons. */
  region(region: TileRect): Buffer {
    const out = Buffer.alloc(region.w * region.h * 4);
    for (let row = 0; row < region.h; row++) {
      const start = ((region.y + row) * this.width + region.x) * 4;
      out.set(this.rgba.subarray(start, start + region.w * 4), row * region.w * 4);
    }
    return out;
  }
}

export function intersects(a: TileRect, b: TileRect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function luminance([r, g, b]: [number, number, number]): number {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
