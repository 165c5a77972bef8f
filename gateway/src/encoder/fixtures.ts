// Synthetic screens for encoder tests and the benchmark: a terminal, a desktop UI and a photo.
import { createCanvas } from 'canvas';
import type { WireRect } from '../protocol/browser.ts';
import { Framebuffer } from './framebuffer.ts';
import { paintUpdate } from './paint-canvas.ts';

export type Scene = 'terminal' | 'ui' | 'photo';

export function renderScene(scene: Scene, w: number, h: number, seed = 1): Uint8Array {
  const canvas = createCanvas(w, h);
  const ctx = canvas.getContext('2d');
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  if (scene === 'terminal') {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = '#d0d0d0';
    ctx.font = '14px monospace';
    const chars = 'abcdefghijklmnopqrstuvwxyz0123456789 -_./$#';
    for (let y = 16; y < h; y += 16) {
      let line = '';
      for (let i = 0; i < w / 8; i++) line += chars[Math.floor(rnd() * chars.length)];
      ctx.fillText(line, 2, y);
    }
  } else if (scene === 'ui') {
    ctx.fillStyle = '#3a6ea5';
    ctx.fillRect(0, 0, w, h);
    for (let i = 0; i < 4; i++) {
      const x = 40 + i * 180;
      const y = 40 + i * 90;
      const g = ctx.createLinearGradient(x, y, x + 420, y);
      g.addColorStop(0, '#1c3f8c');
      g.addColorStop(1, '#a5c3f0');
      ctx.fillStyle = '#f0f0f0';
      ctx.fillRect(x, y, 420, 300);
      ctx.fillStyle = g;
      ctx.fillRect(x, y, 420, 22);
      ctx.fillStyle = '#000';
      ctx.font = '13px sans-serif';
      for (let l = 0; l < 14; l++)
        ctx.fillText(`Menu item ${l} — settings and files`, x + 10, y + 44 + l * 18);
      ctx.strokeRect(x + 300, y + 260, 90, 26);
    }
    ctx.fillStyle = '#c0c0c0';
    ctx.fillRect(0, h - 28, w, 28);
  } else {
    const img = ctx.createImageData(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        const n = rnd() * 24;
        img.data[o] = 128 + 100 * Math.sin(x / 37 + seed) + n;
        img.data[o + 1] = 128 + 90 * Math.sin(y / 23 + x / 91) + n;
        img.data[o + 2] = 128 + 80 * Math.cos((x + y) / 51) + n;
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  const data = ctx.getImageData(0, 0, w, h).data;
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Writes an RGBA image into the framebuffer at (x, y) as one update. */
export function paint(
  fb: Framebuffer,
  x: number,
  y: number,
  w: number,
  h: number,
  rgba: Uint8Array,
  now?: number,
): void {
  fb.applyRects([{ x, y, w, h }], rgba, now);
}

export function solid(w: number, h: number, rgb: number): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  for (let i = 0; i < out.length; i += 4) {
    out[i] = rgb >> 16;
    out[i + 1] = (rgb >> 8) & 255;
    out[i + 2] = rgb & 255;
    out[i + 3] = 255;
  }
  return out;
}

/**
 * Paints updates' wire rects as a viewer does, one update after another (onto `onto`'s picture
 * when given), and returns the RGBA pixels.
 */
export function paintRects(
  rects: readonly WireRect[],
  width: number,
  height: number,
  onto?: Uint8Array,
): Uint8Array {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (onto) {
    const picture = ctx.createImageData(width, height);
    picture.data.set(onto);
    ctx.putImageData(picture, 0, 0);
  }
  paintUpdate(ctx, rects);
  return new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer);
}
