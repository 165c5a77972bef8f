// PNG encoding and scaling of RGBA screens with node-canvas, for screenshots and thumbnails on
// the daemon side (main thread). Kept apart from the worker's display device so VM workers never
// load canvas.
import { Canvas, createCanvas, createImageData } from 'canvas';

export interface PngOptions {
  /** zlib level 0-9; default 1 (fast: ~5 ms for 1024x768). */
  compressionLevel?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /** 'none' (default, fastest) or 'all' (smaller files, slower). */
  filters?: 'none' | 'all';
}

export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

function toImageData(rgba: Uint8Array, width: number, height: number) {
  if (rgba.byteLength < width * height * 4) {
    throw new RangeError(`rgba holds ${rgba.byteLength} bytes, need ${width * height * 4}`);
  }
  const clamped = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, width * height * 4);
  return createImageData(clamped, width, height);
}

/** Encodes RGBA pixels (stride width*4) as a PNG. */
export function encodePng(
  rgba: Uint8Array,
  width: number,
  height: number,
  opts: PngOptions = {},
): Buffer {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.putImageData(toImageData(rgba, width, height), 0, 0);
  return canvas.toBuffer('image/png', {
    compressionLevel: opts.compressionLevel ?? 1,
    filters: opts.filters === 'all' ? Canvas.PNG_ALL_FILTERS : Canvas.PNG_FILTER_NONE,
  });
}

/**
 * Scales RGBA pixels to `targetWidth`, keeping the aspect ratio (height rounded, at least 1).
 * Smooth when shrinking. Returns a copy even when the width already matches.
 */
export function scaleToWidth(
  rgba: Uint8Array,
  width: number,
  height: number,
  targetWidth: number,
): RgbaImage {
  const tw = Math.max(1, Math.round(targetWidth));
  const th = Math.max(1, Math.round((height * tw) / width));
  if (tw === width && th === height) {
    return { width, height, rgba: rgba.slice(0, width * height * 4) };
  }
  const src = createCanvas(width, height);
  src.getContext('2d').putImageData(toImageData(rgba, width, height), 0, 0);
  const dst = createCanvas(tw, th);
  const ctx = dst.getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.patternQuality = 'good';
  ctx.quality = 'good';
  ctx.drawImage(src, 0, 0, tw, th);
  const out = ctx.getImageData(0, 0, tw, th).data;
  return {
    width: tw,
    height: th,
    rgba: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
  };
}

/** A scaled PNG of an RGBA screen (thumbnail), `targetWidth` wide. */
export function thumbnailPng(
  rgba: Uint8Array,
  width: number,
  height: number,
  targetWidth: number,
  opts: PngOptions = {},
): Buffer {
  const scaled =
    targetWidth >= width ? { width, height, rgba } : scaleToWidth(rgba, width, height, targetWidth);
  return encodePng(scaled.rgba, scaled.width, scaled.height, opts);
}
