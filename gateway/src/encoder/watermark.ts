// The watermark a session policy asks for: the user's email, the time and their address, tiled
// faintly across the desktop and blended into the pixels before they are encoded, so the viewer
// receives it as part of the picture (editing the page cannot take it off).
//
// The text is rendered once (node-canvas) into an alpha pattern that repeats over the screen at
// absolute coordinates, so a tile's stamp depends only on its position and the text: viewers with
// the same text share encoded regions (the region cache keys them by `Watermark.id`), and when the
// time moves on only the tiles whose stamp differs need sending again (`changedTiles`).
import { createHash } from 'node:crypto';
import { createCanvas } from 'canvas';
import { TILE } from './framebuffer.ts';

/** The time on the watermark moves in steps of this size (it shows minutes). */
export const WATERMARK_PERIOD_MS = 60_000;
/**
 * Each email and address moves to the next minute this far (0..10 s) past the minute, so the
 * gateway renders and re-sends the stamps of many users spread over seconds rather than all at
 * once; viewers with the same text still move together (and keep sharing encodings).
 */
export const WATERMARK_SPREAD_MS = 10_000;
/** How far a fully covered pixel moves toward black or white, out of 256: faint but readable. */
export const WATERMARK_STRENGTH = 56;
const FONT_PX = 15;
const LINE_PX = 20;
const ANGLE = (-24 * Math.PI) / 180;
/** Space between two stamps, in pixels, across and along the rows. */
const GAP_X = 90;
const GAP_Y = 70;
/** Longest email and address drawn (the pattern's size, and so its cost, stays bounded). */
const MAX_EMAIL_CHARS = 64;
const MAX_ADDRESS_CHARS = 45;

export interface WatermarkStamp {
  email: string;
  /** Wall-clock time, ms since the epoch; shown to the minute, in UTC. */
  at: number;
  /** The viewer's address as the gateway sees it. */
  address: string;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** How long after each minute this email and address move on (see WATERMARK_SPREAD_MS). */
export function watermarkOffsetMs(email: string, address: string): number {
  const digest = createHash('sha256').update(`${email}\n${address}`).digest();
  return digest.readUInt32BE(0) % WATERMARK_SPREAD_MS;
}

/** The lines a watermark shows: the email, then the minute (UTC) and the address. */
export function watermarkLines({ email, at, address }: WatermarkStamp): [string, string] {
  const minute = new Date(Math.floor(at / WATERMARK_PERIOD_MS) * WATERMARK_PERIOD_MS);
  const time = `${minute.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  // An IPv4 peer on a dual-stack socket is reported as ::ffff:a.b.c.d; people know a.b.c.d.
  const shown = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') || 'unknown address';
  return [clip(email, MAX_EMAIL_CHARS), `${time} · ${clip(shown, MAX_ADDRESS_CHARS)}`];
}

/** A rendered watermark: the alpha pattern of one text, and the tiles it inks on a screen size. */
export class Watermark {
  /** Identity for sharing encodings: equal ids stamp equal pixels. */
  readonly id: string;
  /** Pattern size; the pattern repeats every `width` x `height` pixels from the screen's origin. */
  readonly width: number;
  readonly height: number;
  /** Per pattern pixel, 0..WATERMARK_STRENGTH: how far it moves toward black or white. */
  readonly mask: Uint8Array;
  private readonly inked = new Map<string, Uint8Array>();
  /** The last `changedTiles` answer, by the other watermark's id (not the object: no chain). */
  private changed: { key: string; sinceId: string; tiles: Uint8Array } | null = null;

  constructor(readonly lines: readonly string[]) {
    this.id = lines.join('\n');
    const font = `bold ${FONT_PX}px "DejaVu Sans", sans-serif`;
    const probe = createCanvas(1, 1).getContext('2d');
    probe.font = font;
    const textW = Math.ceil(Math.max(...lines.map((l) => probe.measureText(l).width)));
    const textH = lines.length * LINE_PX;
    const cos = Math.abs(Math.cos(ANGLE));
    const sin = Math.abs(Math.sin(ANGLE));
    const cellW = Math.ceil(textW * cos + textH * sin + GAP_X);
    const cellH = Math.ceil(textW * sin + textH * cos + GAP_Y);
    // Two rows of stamps, the second shifted by half a stamp (brick pattern), so columns of
    // text do not line up into stripes.
    this.width = cellW;
    this.height = 2 * cellH;
    const canvas = createCanvas(this.width, this.height);
    const ctx = canvas.getContext('2d');
    ctx.antialias = 'gray';
    ctx.font = font;
    ctx.fillStyle = '#fff';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const centres = [
      [cellW / 2, cellH / 2],
      [cellW, cellH * 1.5],
    ] as const;
    // Each stamp is drawn at its neighbours' offsets too, so the pattern wraps without seams.
    for (const [cx, cy] of centres) {
      for (const dx of [-this.width, 0, this.width]) {
        for (const dy of [-this.height, 0, this.height]) {
          ctx.save();
          ctx.translate(cx + dx, cy + dy);
          ctx.rotate(ANGLE);
          lines.forEach((line, i) => ctx.fillText(line, 0, (i - (lines.length - 1) / 2) * LINE_PX));
          ctx.restore();
        }
      }
    }
    const rgba = ctx.getImageData(0, 0, this.width, this.height).data;
    this.mask = new Uint8Array(this.width * this.height);
    for (let i = 0; i < this.mask.length; i++) {
      this.mask[i] = (rgba[i * 4 + 3]! * WATERMARK_STRENGTH + 127) >> 8;
    }
  }

  /**
   * Blends the watermark into `rgba`, a w x h region whose top-left pixel is the screen's (x, y).
   * Dark pixels are lightened and light ones darkened, so the text reads on any background.
   */
  apply(rgba: Uint8Array | Uint8ClampedArray, x: number, y: number, w: number, h: number): void {
    const { mask, width: pw, height: ph } = this;
    for (let row = 0; row < h; row++) {
      const maskRow = ((y + row) % ph) * pw;
      let mx = x % pw;
      let o = row * w * 4;
      for (let col = 0; col < w; col++, o += 4) {
        const m = mask[maskRow + mx]!;
        if (++mx === pw) mx = 0;
        if (m === 0) continue;
        const r = rgba[o]!;
        const g = rgba[o + 1]!;
        const b = rgba[o + 2]!;
        if (r * 77 + g * 150 + b * 29 >= 128 << 8) {
          rgba[o] = r - ((r * m) >> 8);
          rgba[o + 1] = g - ((g * m) >> 8);
          rgba[o + 2] = b - ((b * m) >> 8);
        } else {
          rgba[o] = r + (((255 - r) * m) >> 8);
          rgba[o + 1] = g + (((255 - g) * m) >> 8);
          rgba[o + 2] = b + (((255 - b) * m) >> 8);
        }
      }
    }
  }

  /** Per 64x64 tile of a screen this size: 1 where the watermark inks at least one pixel. */
  inkedTiles(screenW: number, screenH: number): Uint8Array {
    const key = `${screenW}x${screenH}`;
    let tiles = this.inked.get(key);
    if (!tiles) {
      tiles = this.tilesWhere(screenW, screenH, (...box) => this.inksAny(...box));
      if (this.inked.size >= 4) this.inked.clear();
      this.inked.set(key, tiles);
    }
    return tiles;
  }

  /**
   * Per tile: 1 where this watermark's stamp differs from `since`'s (null: no watermark), the
   * tiles a viewer must be sent again when its watermark changes from `since` to this one.
   */
  changedTiles(since: Watermark | null, screenW: number, screenH: number): Uint8Array {
    if (!since) return this.inkedTiles(screenW, screenH);
    const key = `${screenW}x${screenH}`;
    if (this.changed?.sinceId === since.id && this.changed.key === key) return this.changed.tiles;
    const tiles = this.tilesWhere(screenW, screenH, (...box) => this.differsFrom(since, ...box));
    // Viewers with the same text move on together: the first one computes, the others reuse.
    this.changed = { key, sinceId: since.id, tiles };
    return tiles;
  }

  /** Per tile: 1 where `inks(x0, y0, x1, y1)` says so. */
  private tilesWhere(
    screenW: number,
    screenH: number,
    inks: (x0: number, y0: number, x1: number, y1: number) => boolean,
  ): Uint8Array {
    const tilesX = Math.ceil(screenW / TILE);
    const tilesY = Math.ceil(screenH / TILE);
    const tiles = new Uint8Array(tilesX * tilesY);
    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        const x0 = tx * TILE;
        const y0 = ty * TILE;
        const x1 = Math.min(screenW, x0 + TILE);
        const y1 = Math.min(screenH, y0 + TILE);
        tiles[ty * tilesX + tx] = inks(x0, y0, x1, y1) ? 1 : 0;
      }
    }
    return tiles;
  }

  private inksAny(x0: number, y0: number, x1: number, y1: number): boolean {
    const { mask, width: pw, height: ph } = this;
    for (let y = y0; y < y1; y++) {
      const row = (y % ph) * pw;
      for (let x = x0, mx = x0 % pw; x < x1; x++) {
        if (mask[row + mx] !== 0) return true;
        if (++mx === pw) mx = 0;
      }
    }
    return false;
  }

  private differsFrom(other: Watermark, x0: number, y0: number, x1: number, y1: number): boolean {
    const { mask, width: pw, height: ph } = this;
    const { mask: theirMask, width: ow, height: oh } = other;
    for (let y = y0; y < y1; y++) {
      const row = (y % ph) * pw;
      const theirRow = (y % oh) * ow;
      for (let x = x0, mx = x0 % pw, ox = x0 % ow; x < x1; x++) {
        if (mask[row + mx] !== theirMask[theirRow + ox]) return true;
        if (++mx === pw) mx = 0;
        if (++ox === ow) ox = 0;
      }
    }
    return false;
  }
}

/**
 * Rendered watermarks by text, so each text is rendered once and viewers with the same text get
 * the same `Watermark` (and share its tile maps). Keeps the most recently used few.
 */
export class WatermarkLibrary {
  private readonly rendered = new Map<string, Watermark>();

  constructor(private readonly capacity = 64) {}

  get(stamp: WatermarkStamp): Watermark {
    const lines = watermarkLines(stamp);
    const id = lines.join('\n');
    let watermark = this.rendered.get(id);
    if (watermark) {
      this.rendered.delete(id);
    } else {
      watermark = new Watermark(lines);
      if (this.rendered.size >= this.capacity) {
        this.rendered.delete(this.rendered.keys().next().value!);
      }
    }
    this.rendered.set(id, watermark);
    return watermark;
  }
}

/** The gateway's one library: sessions of the same user and address share renderings. */
export const watermarks = new WatermarkLibrary();
