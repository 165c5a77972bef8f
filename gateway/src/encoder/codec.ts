// Image codecs (node-canvas) and the per-region PNG/JPEG choice.
//
// The choice, measured with `npm run bench -w gateway` (see gateway/README.md for the table):
// text and UI regions have few distinct colours and compress well losslessly with fast PNG;
// photo-like regions have many and PNG balloons there (4-10x JPEG's size), so they go JPEG.
// Regions that change often (window drags, video, scrolling with anti-aliased content) go JPEG
// at a lower colour threshold: they will be replaced soon anyway, and once they settle the
// encoder re-sends them losslessly ("refinement").
import { Canvas, createCanvas, ImageData } from 'canvas';
import type { Framebuffer } from './framebuffer.ts';
import type { Watermark } from './watermark.ts';

/** Distinct colours in the sample at or above which a region may count as photo-like... */
export const PHOTO_COLOURS = 160;
/**
 * ...unless this share or more of the sampled pixels equal their right-hand neighbour: flat
 * UI with gradients or anti-aliased text has many colours but long runs, and PNG beats JPEG
 * there; photos and noise have almost no runs.
 */
export const FLAT_RATIO = 0.5;
/** Lower threshold for regions whose tiles change this many times per second or more. */
export const FAST_CHANGE_RATE = 4;
export const FAST_CHANGE_COLOURS = 24;
/** The fast-change rule applies only to regions this large (typing changes a tile or two). */
export const FAST_CHANGE_MIN_PIXELS = 4 * 64 * 64;
/** Regions smaller than this many pixels always go PNG (JPEG's fixed overhead dominates). */
export const MIN_JPEG_PIXELS = 64 * 32;
/** Pixels sampled per region for the colour count. */
const SAMPLE_TARGET = 1024;

export interface RegionSample {
  /** Distinct RGB colours among the sampled pixels (stops counting at the cap). */
  colours: number;
  /** Share of sampled pixels equal to their right-hand neighbour, 0..1. */
  flatRatio: number;
}

/**
 * Samples about SAMPLE_TARGET pixels spread over the region. The stride is odd so it does not
 * alias with dithering or text rows.
 */
export function sampleRegion(
  fb: Framebuffer,
  x: number,
  y: number,
  w: number,
  h: number,
  cap = 4096,
): RegionSample {
  const data = fb.data;
  const area = w * h;
  const step = Math.max(1, Math.floor(area / SAMPLE_TARGET)) | 1;
  const seen = new Set<number>();
  let samples = 0;
  let flat = 0;
  for (let i = 0; i < area; i += step) {
    const px = x + (i % w);
    const o = ((y + Math.floor(i / w)) * fb.width + px) * 4;
    const rgb = (data[o]! << 16) | (data[o + 1]! << 8) | data[o + 2]!;
    if (seen.size < cap) seen.add(rgb);
    samples++;
    const n = px + 1 < x + w ? o + 4 : o - 4;
    if (n >= 0 && ((data[n]! << 16) | (data[n + 1]! << 8) | data[n + 2]!) === rgb) flat++;
  }
  return { colours: seen.size, flatRatio: samples ? flat / samples : 1 };
}

/** Distinct colours only (see sampleRegion). */
export function sampleColours(fb: Framebuffer, x: number, y: number, w: number, h: number): number {
  return sampleRegion(fb, x, y, w, h).colours;
}

export interface CodecChoiceInput {
  pixels: number;
  colours: number;
  flatRatio: number;
  /** Mean change rate of the region's tiles, changes per second. */
  changeRate: number;
  textMode: boolean;
  /** Lossless required (refinement of a region sent as JPEG earlier). */
  lossless: boolean;
}

export function chooseCodec(input: CodecChoiceInput): 'png' | 'jpeg' {
  if (input.lossless || input.textMode || input.pixels < MIN_JPEG_PIXELS) return 'png';
  if (input.colours >= PHOTO_COLOURS && input.flatRatio < FLAT_RATIO) return 'jpeg';
  if (
    input.pixels >= FAST_CHANGE_MIN_PIXELS &&
    input.changeRate >= FAST_CHANGE_RATE &&
    input.colours >= FAST_CHANGE_COLOURS
  ) {
    return 'jpeg';
  }
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
  watermark: Watermark | null = null,
): Buffer {
  const canvas = canvasFor(w, h);
  const ctx = canvas.getContext('2d');
  const pixels = extractRegion(fb, x, y, w, h);
  watermark?.apply(pixels, x, y, w, h);
  ctx.putImageData(new ImageData(pixels, w, h), 0, 0);
  if (codec === 'png') {
    return canvas.toBuffer('image/png', {
      compressionLevel: 1,
      filters: Canvas.PNG_FILTER_NONE,
    });
  }
  return canvas.toBuffer('image/jpeg', {
    quality: Math.min(1, Math.max(0.05, jpegQuality / 100)),
    progressive: false,
    chromaSubsampling: true,
  });
}
