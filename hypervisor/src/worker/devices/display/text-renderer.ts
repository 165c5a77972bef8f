// Renders a VGA text-mode character grid into 32-bit RGBA pixels (Int32 words, little-endian,
// so byte order in memory is R, G, B, A). Cells are 8x16 pixels: an 80x25 screen is 640x400.
import type { BitmapFont } from './font.ts';
import { CP437_TO_UNICODE } from './font.ts';

export const CELL_WIDTH = 8;
export const CELL_HEIGHT = 16;

/** The classic 16-colour VGA palette as 0xRRGGBB (used when the guest gives no colours). */
export const VGA_PALETTE: readonly number[] = [
  0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa, 0x555555,
  0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
];

/**
 * 0xRRGGBB -> RGBA pixel word with alpha 255, as a signed 32-bit integer (little-endian memory
 * order R, G, B, A). Signed so V8 keeps it a small integer on the hot paths.
 */
export function rgbToPixel(rgb: number): number {
  return 0xff000000 | ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >>> 16) & 0xff);
}

/** Character cells of a text screen plus the cursor, as v86 reports them through put_char. */
export class TextGrid {
  cols = 0;
  rows = 0;
  chars = new Uint8Array(0);
  /** Foreground and background per cell, as RGBA pixel words. */
  fg = new Int32Array(0);
  bg = new Int32Array(0);
  dirtyRows = new Uint8Array(0);
  cursorRow = -1;
  cursorCol = -1;
  /** Cursor scanlines in the guest's character height (`fontHeight`). */
  cursorStart = 14;
  cursorEnd = 15;
  cursorEnabled = true;
  /** Character height the guest programmed (scan lines per row); cursor lines scale from it. */
  fontHeight = 16;

  resize(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    const n = cols * rows;
    this.chars = new Uint8Array(n);
    this.fg = new Int32Array(n).fill(rgbToPixel(VGA_PALETTE[7] ?? 0xaaaaaa));
    this.bg = new Int32Array(n).fill(rgbToPixel(0));
    this.dirtyRows = new Uint8Array(rows).fill(1);
  }

  put(row: number, col: number, chr: number, bgRgb: number, fgRgb: number): void {
    if (row < 0 || col < 0 || row >= this.rows || col >= this.cols) return;
    const i = row * this.cols + col;
    const fg = rgbToPixel(fgRgb);
    const bg = rgbToPixel(bgRgb);
    if (this.chars[i] === chr && this.fg[i] === fg && this.bg[i] === bg) return;
    this.chars[i] = chr;
    this.fg[i] = fg;
    this.bg[i] = bg;
    this.dirtyRows[row] = 1;
  }

  setCursor(row: number, col: number): void {
    if (row === this.cursorRow && col === this.cursorCol) return;
    this.markRow(this.cursorRow);
    this.markRow(row);
    this.cursorRow = row;
    this.cursorCol = col;
  }

  setCursorShape(start: number, end: number, enabled: boolean): void {
    if (start === this.cursorStart && end === this.cursorEnd && enabled === this.cursorEnabled)
      return;
    this.cursorStart = start;
    this.cursorEnd = end;
    this.cursorEnabled = enabled;
    this.markRow(this.cursorRow);
  }

  markAll(): void {
    this.dirtyRows.fill(1);
  }

  private markRow(row: number): void {
    if (row >= 0 && row < this.rows) this.dirtyRows[row] = 1;
  }

  /** Lines of text, decoded from CP437 (for logs and tests). */
  lines(): string[] {
    const out: string[] = [];
    for (let r = 0; r < this.rows; r++) {
      let s = '';
      for (let c = 0; c < this.cols; c++) {
        const code = this.chars[r * this.cols + c] ?? 0;
        s += code === 0 ? ' ' : String.fromCodePoint(CP437_TO_UNICODE[code] ?? 0x3f);
      }
      out.push(s);
    }
    return out;
  }

  /**
   * Draws the dirty rows into `dst` (stride cols*8 pixels) and clears their dirty flags.
   * Returns [firstPixelRow, endPixelRow) of what was drawn, or null when nothing was dirty.
   */
  renderDirty(dst: Int32Array, font: BitmapFont): [number, number] | null {
    let first = -1;
    let last = -1;
    for (let r = 0; r < this.rows; r++) {
      if (!this.dirtyRows[r]) continue;
      this.dirtyRows[r] = 0;
      this.renderRow(dst, font, r);
      if (first < 0) first = r;
      last = r;
    }
    return first < 0 ? null : [first * CELL_HEIGHT, (last + 1) * CELL_HEIGHT];
  }

  private renderRow(dst: Int32Array, font: BitmapFont, r: number): void {
    const stride = this.cols * CELL_WIDTH;
    const glyphs = font.glyphs;
    const gh = font.height;
    const rowBase = r * CELL_HEIGHT * stride;
    for (let c = 0; c < this.cols; c++) {
      const i = r * this.cols + c;
      const chr = this.chars[i] ?? 0;
      const fg = this.fg[i] ?? 0;
      const bg = this.bg[i] ?? 0;
      let p = rowBase + c * CELL_WIDTH;
      const g = chr * gh;
      for (let y = 0; y < CELL_HEIGHT; y++) {
        // Fonts shorter or taller than 16 lines are top-aligned / clipped.
        const bits = y < gh ? (glyphs[g + y] ?? 0) : 0;
        dst[p] = bits & 0x80 ? fg : bg;
        dst[p + 1] = bits & 0x40 ? fg : bg;
        dst[p + 2] = bits & 0x20 ? fg : bg;
        dst[p + 3] = bits & 0x10 ? fg : bg;
        dst[p + 4] = bits & 0x08 ? fg : bg;
        dst[p + 5] = bits & 0x04 ? fg : bg;
        dst[p + 6] = bits & 0x02 ? fg : bg;
        dst[p + 7] = bits & 0x01 ? fg : bg;
        p += stride;
      }
    }
    if (
      this.cursorEnabled &&
      this.cursorRow === r &&
      this.cursorCol >= 0 &&
      this.cursorCol < this.cols
    ) {
      // Scale the guest's scanlines (in its own character height) to our 16-line cells.
      const scale = CELL_HEIGHT / Math.max(1, this.fontHeight);
      const y0 = Math.max(0, Math.floor(this.cursorStart * scale));
      const y1 = Math.min(CELL_HEIGHT - 1, Math.floor((this.cursorEnd + 1) * scale) - 1);
      const color = this.fg[r * this.cols + this.cursorCol] ?? rgbToPixel(0xaaaaaa);
      for (let y = y0; y <= y1; y++) {
        const p = rowBase + y * stride + this.cursorCol * CELL_WIDTH;
        dst.fill(color, p, p + CELL_WIDTH);
      }
    }
  }
}
