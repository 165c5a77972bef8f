// Paints wire rects onto a node-canvas as a viewer paints them (web/viewer's Display.ts): the
// recorder's picture of what the viewer has, and the tests' reference pictures.
import { createCanvas, Image, type CanvasRenderingContext2D } from 'canvas';
import type { WireRect } from '../protocol/browser.ts';

/** Paints one update's rects in order; its copies read the picture from before the update. */
export function paintUpdate(ctx: CanvasRenderingContext2D, rects: readonly WireRect[]): void {
  let before: ReturnType<typeof createCanvas> | null = null;
  if (rects.some((r) => r.enc === 'copy')) {
    before = createCanvas(ctx.canvas.width, ctx.canvas.height);
    before.getContext('2d').drawImage(ctx.canvas, 0, 0);
  }
  for (const r of rects) {
    switch (r.enc) {
      case 'fill':
        ctx.fillStyle = `#${r.rgb.toString(16).padStart(6, '0')}`;
        ctx.fillRect(r.x, r.y, r.w, r.h);
        break;
      case 'copy':
        ctx.drawImage(before!, r.sx, r.sy, r.w, r.h, r.x, r.y, r.w, r.h);
        break;
      default: {
        const image = new Image();
        image.src = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
        ctx.drawImage(image, r.x, r.y, r.w, r.h);
      }
    }
  }
}
