// Image codecs (node-canvas) and the per-region PNG/JPEG choice.
//
// The choice, measured with `npm run bench -w gateway` (see gateway/README.md for the table):
// text and UI regions have few distinct colours and compress well losslessly with fast PNG;
// photo-like regions have many and PNG balloons there (4-10x JPEG's size), so they go JPEG.
// Regions that change often (window drags, video, scrolling with anti-aliased content) go JPEG
// at a lower colour threshold: they will be replaced soon anyway, and once they settle the
// encoder re-sends them losslessly ("refinement").
import { createCanvas, ImageData, type Canvas } from 'canvas';
import type { Framebuffer } from './framebuffer.ts';

/** Distinct colours in the sample at or above which a region counts as photo-like. */
export const PHOTO_COLOURS = 160;
/** Lower threshold for regions whose tiles change this many times per second or more. */
export const FAST_CHANGE_RATE = 4;
export const FAST_CHANGE_COLOURS = 24;
/** Regions smaller than this many pixels always go PNG (JPEG's fixed overhead dominates). */
export const MIN_JPEG_PIXELS = 64 * 32;
/** Pixels sampled per region for the colour count. */
const SAMPLE_TARGET = 1024;

/**
 * Distinct RGB colours among about SAMPLE_TARGET pixels spread over the region, stopping at
 * `cap`. Sampling uses an odd stride so it does not alias with dithering or text rows.
 */
export function sampleColours(
  fb: Framebuffer,
  x: number,
  y: number,
  w: number,
  h: number,
  cap = 4096,
): number {
  const data = fb.data;
  const area = w * h;
  const step = Math.max(1, Math.floor(area / SAMPLE_TARGET)) | 1;
  const seen = new Set<number>();
  for (let i = 0; i < area; i += step) {
    const py = y + Math.floor(i / w);
    const px = x + (i % w);
    const o = (py * fb.width + px) * 4;
    seen.add((data[o]! << 16) | (data[o + 1]! << 8) | data[o + 2]!);
    if (seen.size >= cap) break;
  }
  return seen.size;
}

export interface CodecChoiceInput {
  pixels: number;
  colours: number;
  /** Mean change rate of the region's tiles, changes per second. */
  changeRate: number;
  textMode: boolean;
  /** Lossless required (refinement of a region sent as JPEG earlier). */
  lossless: boolean;
}

export function chooseCodec(input: CodecChoiceInput): 'png' | 'jpeg' {
  if (input.lossless || input.textMode || input.pixels < MIN_JPEG_PIXELS) return 'png';
  if (input.colours >= PHOTO_COLOURS) return 'jpeg';
  if (input.changeRate >= FAST_CHANGE_RATE && input.colours >= FAST_CHANGE_COLOURS) return 'jpeg';
  return 'png';
}

// node-canvas wants a fresh surface per size; keep a few recent ones (sizes repeat a lot:
// 64x64 tiles, full rows, the whole screen).
const canvasCache = new Map<string, Canvas>();
function canvasFor(w: number, h: number): Canvas {
  const id = `${w}x${h}`;
  let canvas = canvasCache.get(id);
  if (!canvas) {
    if (canvasCache.size >= 32) canvasCache.delete(canvasCache.keys().next().value!);
    canvas = createCanvas(w, h);
    canvasCache.set(id, canvas);
  }
  return canvas;
}

/** Copies a region of the framebuffer into a contiguous RGBA buffer. */
export function extractRegion(
  fb: Framebuffer,
  x: number,
  y: number,
  w: number,
  h: number,
): Uint8ClampedArray {
  const out = new Uint8ClampedArray(w * h * 4);
  const rowBytes = w * 4;
  for (let row = 0; row < h; row++) {
    const src = ((y + row) * fb.width + x) * 4;
    out.set(fb.data.subarray(src, src + rowBytes), row * rowBytes);
  }
  return out;
}

export function encodeRegion(
  fb: Framebuffer,
  x: number,
  y: number,
  w: number,
  h: number,
  codec: 'png' | 'jpeg',
  jpegQuality: number,
): Buffer {
  const canvas = canvasFor(w, h);
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(extractRegion(fb, x, y, w, h), w, h), 0, 0);
  if (codec === 'png') {
    return canvas.toBuffer('image/png', {
      compressionLevel: 1,
      filters: canvas.PNG_FILTER_NONE,
    });
  }
  return canvas.toBuffer('image/jpeg', {
    quality: Math.min(1, Math.max(0.05, jpegQuality / 100)),
    progressive: false,
    chromaSubsampling: true,
  });
}
