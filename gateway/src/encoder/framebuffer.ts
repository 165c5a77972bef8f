// The gateway's copy of one VM's screen, fed by the hypervisor's tile updates and shared by
// every viewer of that VM. Per 64x64 tile it keeps a version (bumped on each update touching it),
// the time of the last change and a decaying change rate, which the encoder uses as hints.
export const TILE = 64;

export type ScreenMode = 'graphical' | 'text';

export interface SourceRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Time constant of the change-rate decay, ms: `rate` is roughly changes per second. */
const RATE_TAU_MS = 1000;

export class Framebuffer {
  width = 0;
  height = 0;
  mode: ScreenMode = 'graphical';
  data = new Uint8Array(0);
  tilesX = 0;
  tilesY = 0;
  version = new Uint32Array(0);
  lastChange = new Float64Array(0);
  private rate = new Float32Array(0);
  /** Bumped on every resize; client encoders reset when it changes. */
  epoch = 0;
  /** Bumped on every applied update; a cheap "anything new?" test. */
  generation = 0;

  constructor(width = 0, height = 0, mode: ScreenMode = 'graphical') {
    if (width > 0 && height > 0) this.resize(width, height, mode);
  }

  resize(width: number, height: number, mode: ScreenMode): void {
    this.mode = mode;
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 4);
    this.tilesX = Math.ceil(width / TILE);
    this.tilesY = Math.ceil(height / TILE);
    const n = this.tilesX * this.tilesY;
    this.version = new Uint32Array(n).fill(1);
    this.lastChange = new Float64Array(n);
    this.rate = new Float32Array(n);
    this.epoch++;
    this.generation++;
  }

  /**
   * Copies changed rects in. `pixels` holds each rect's RGBA rows one after another (stride w*4),
   * as the hypervisor's `display:frame` carries them. Out-of-range parts are ignored. Alpha is
   * forced opaque so encoders never premultiply.
   */
  applyRects(rects: readonly SourceRect[], pixels: Uint8Array, now = Date.now()): void {
    let offset = 0;
    for (const r of rects) {
      const size = r.w * r.h * 4;
      if (r.w <= 0 || r.h <= 0 || offset + size > pixels.length) break;
      const x0 = Math.max(0, r.x);
      const y0 = Math.max(0, r.y);
      const x1 = Math.min(this.width, r.x + r.w);
      const y1 = Math.min(this.height, r.y + r.h);
      if (x1 > x0 && y1 > y0) {
        const rowBytes = (x1 - x0) * 4;
        for (let y = y0; y < y1; y++) {
          const src = offset + ((y - r.y) * r.w + (x0 - r.x)) * 4;
          const dst = (y * this.width + x0) * 4;
          this.data.set(pixels.subarray(src, src + rowBytes), dst);
          for (let i = dst + 3, end = dst + rowBytes; i < end; i += 4) this.data[i] = 255;
        }
        this.touch(x0, y0, x1, y1, now);
      }
      offset += size;
    }
    this.generation++;
  }

  /**
   * Like `applyRects`, but marks changed only the tiles whose pixels differ from what is here:
   * a keyframe of the picture viewers already have (the VM's new host after a relocation, a
   * re-watch after a lost connection) then costs them nothing, and one that differs a little
   * costs only its changes. Returns how many tiles differed.
   */
  applyRectsChanged(rects: readonly SourceRect[], pixels: Uint8Array, now = Date.now()): number {
    const here = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    const row = Buffer.alloc(TILE * 4);
    const differs = new Uint8Array(this.tilesX * this.tilesY);
    let offset = 0;
    for (const r of rects) {
      const size = r.w * r.h * 4;
      if (r.w <= 0 || r.h <= 0 || offset + size > pixels.length) break;
      const x0 = Math.max(0, r.x);
      const y0 = Math.max(0, r.y);
      const x1 = Math.min(this.width, r.x + r.w);
      const y1 = Math.min(this.height, r.y + r.h);
      for (let y = y0; y < y1; y++) {
        // Tile by tile along the row, so each tile is compared and marked on its own.
        for (let tx0 = x0; tx0 < x1; tx0 = (Math.floor(tx0 / TILE) + 1) * TILE) {
          const tx1 = Math.min(x1, (Math.floor(tx0 / TILE) + 1) * TILE);
          const bytes = (tx1 - tx0) * 4;
          const src = offset + ((y - r.y) * r.w + (tx0 - r.x)) * 4;
          const dst = (y * this.width + tx0) * 4;
          row.set(pixels.subarray(src, src + bytes));
          for (let i = 3; i < bytes; i += 4) row[i] = 255;
          if (row.compare(here, dst, dst + bytes, 0, bytes) === 0) continue;
          row.copy(here, dst, 0, bytes);
          differs[Math.floor(y / TILE) * this.tilesX + Math.floor(tx0 / TILE)] = 1;
        }
      }
      offset += size;
    }
    let count = 0;
    differs.forEach((differ, tile) => {
      if (!differ) return;
      count++;
      const x = (tile % this.tilesX) * TILE;
      const y = Math.floor(tile / this.tilesX) * TILE;
      this.touch(x, y, x + 1, y + 1, now);
    });
    this.generation++;
    return count;
  }

  /** Marks the tiles overlapping [x0,x1)x[y0,y1) changed. */
  touch(x0: number, y0: number, x1: number, y1: number, now = Date.now()): void {
    const tx1 = Math.ceil(x1 / TILE);
    const ty1 = Math.ceil(y1 / TILE);
    for (let ty = Math.floor(y0 / TILE); ty < ty1; ty++) {
      for (let tx = Math.floor(x0 / TILE); tx < tx1; tx++) {
        const t = ty * this.tilesX + tx;
        this.version[t] = (this.version[t]! + 1) >>> 0 || 1;
        const last = this.lastChange[t]!;
        this.rate[t] = this.rate[t]! * Math.exp(-(now - last) / RATE_TAU_MS) + 1;
        this.lastChange[t] = now;
      }
    }
  }

  /** Approximate changes per second of a tile, decayed to `now`. */
  changeRate(tile: number, now = Date.now()): number {
    return this.rate[tile]! * Math.exp(-(now - this.lastChange[tile]!) / RATE_TAU_MS);
  }

  /** Width and height in pixels of a tile (edge tiles may be smaller). */
  tileSize(tx: number, ty: number): { w: number; h: number } {
    return {
      w: Math.min(TILE, this.width - tx * TILE),
      h: Math.min(TILE, this.height - ty * TILE),
    };
  }
}
