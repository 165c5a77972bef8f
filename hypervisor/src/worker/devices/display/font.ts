// VGA text-mode font: an 8x16 bitmap font indexed by CP437 code, read at run time from a PSF
// console font that Debian ships (package `console-setup-linux`: /usr/share/consolefonts).
// PSF fonts carry a Unicode table, so each CP437 code is looked up through its Unicode value.
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** A bitmap font with 256 glyphs in CP437 order, one byte per glyph row (bit 7 = leftmost). */
export interface BitmapFont {
  width: 8;
  height: number;
  /** 256 * height bytes. */
  glyphs: Uint8Array;
  /** Where the glyphs came from (file path, or "builtin-fallback"). */
  source: string;
}

/** Fonts merged in order when no path is given. All from Debian's `console-setup-linux`. */
export const DEFAULT_FONT_CANDIDATES = [
  // CP437 symbols 01-1F, real double-line box drawing, Greek; lacks only å ì Å ò.
  '/usr/share/consolefonts/FullGreek-VGA16.psf.gz',
  '/usr/share/consolefonts/Uni2-VGA16.psf.gz',
  '/usr/share/consolefonts/Lat15-VGA16.psf.gz',
];

/** Unicode code point of each CP437 byte (0x00 maps to U+0000 and renders blank). */
export const CP437_TO_UNICODE: readonly number[] = [
  0x0000,
  0x263a,
  0x263b,
  0x2665,
  0x2666,
  0x2663,
  0x2660,
  0x2022,
  0x25d8,
  0x25cb,
  0x25d9,
  0x2642,
  0x2640,
  0x266a,
  0x266b,
  0x263c,
  0x25ba,
  0x25c4,
  0x2195,
  0x203c,
  0x00b6,
  0x00a7,
  0x25ac,
  0x21a8,
  0x2191,
  0x2193,
  0x2192,
  0x2190,
  0x221f,
  0x2194,
  0x25b2,
  0x25bc,
  // 0x20-0x7E: ASCII
  ...Array.from({ length: 0x5f }, (_, i) => 0x20 + i),
  0x2302,
  0x00c7,
  0x00fc,
  0x00e9,
  0x00e2,
  0x00e4,
  0x00e0,
  0x00e5,
  0x00e7,
  0x00ea,
  0x00eb,
  0x00e8,
  0x00ef,
  0x00ee,
  0x00ec,
  0x00c4,
  0x00c5,
  0x00c9,
  0x00e6,
  0x00c6,
  0x00f4,
  0x00f6,
  0x00f2,
  0x00fb,
  0x00f9,
  0x00ff,
  0x00d6,
  0x00dc,
  0x00a2,
  0x00a3,
  0x00a5,
  0x20a7,
  0x0192,
  0x00e1,
  0x00ed,
  0x00f3,
  0x00fa,
  0x00f1,
  0x00d1,
  0x00aa,
  0x00ba,
  0x00bf,
  0x2310,
  0x00ac,
  0x00bd,
  0x00bc,
  0x00a1,
  0x00ab,
  0x00bb,
  0x2591,
  0x2592,
  0x2593,
  0x2502,
  0x2524,
  0x2561,
  0x2562,
  0x2556,
  0x2555,
  0x2563,
  0x2551,
  0x2557,
  0x255d,
  0x255c,
  0x255b,
  0x2510,
  0x2514,
  0x2534,
  0x252c,
  0x251c,
  0x2500,
  0x253c,
  0x255e,
  0x255f,
  0x255a,
  0x2554,
  0x2569,
  0x2566,
  0x2560,
  0x2550,
  0x256c,
  0x2567,
  0x2568,
  0x2564,
  0x2565,
  0x2559,
  0x2558,
  0x2552,
  0x2553,
  0x256b,
  0x256a,
  0x2518,
  0x250c,
  0x2588,
  0x2584,
  0x258c,
  0x2590,
  0x2580,
  0x03b1,
  0x00df,
  0x0393,
  0x03c0,
  0x03a3,
  0x03c3,
  0x00b5,
  0x03c4,
  0x03a6,
  0x0398,
  0x03a9,
  0x03b4,
  0x221e,
  0x03c6,
  0x03b5,
  0x2229,
  0x2261,
  0x00b1,
  0x2265,
  0x2264,
  0x2320,
  0x2321,
  0x00f7,
  0x2248,
  0x00b0,
  0x2219,
  0x00b7,
  0x221a,
  0x207f,
  0x00b2,
  0x25a0,
  0x00a0,
];

/** Second choices for code points some fonts lack. */
const UNICODE_ALTERNATIVES: Record<number, number[]> = {
  0x00df: [0x03b2], // ß / β share 0xE1
  0x00b5: [0x03bc],
  0x2219: [0x00b7, 0x2022],
  0x00a0: [0x0020],
  0x03a9: [0x2126],
  0x2302: [0x0394],
  0x2022: [0x00b7, 0x2219],
  0x20a7: [0x0050],
  0x25ba: [0x25b6, 0x25b8],
  0x25c4: [0x25c0, 0x25c2],
};

export interface PsfFont {
  width: number;
  height: number;
  bytesPerGlyph: number;
  glyphCount: number;
  data: Uint8Array; // glyph bitmaps, glyphCount * bytesPerGlyph
  /** Unicode code point -> glyph index (empty when the font has no table). */
  unicode: Map<number, number>;
}

/** Parses a PSF1 or PSF2 font (gzip-compressed or not). */
export function parsePsf(input: Uint8Array): PsfFont {
  let buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const unicode = new Map<number, number>();
  if (buf[0] === 0x36 && buf[1] === 0x04) {
    // PSF1: magic 36 04, mode, charsize (height); width 8.
    const mode = buf[2] ?? 0;
    const height = buf[3] ?? 0;
    const glyphCount = mode & 0x01 ? 512 : 256;
    const dataEnd = 4 + glyphCount * height;
    if (height === 0 || buf.length < dataEnd) throw new Error('truncated PSF1 font');
    const data = new Uint8Array(buf.subarray(4, dataEnd));
    if (mode & 0x02) {
      // Unicode table: per glyph, uint16 LE values, 0xFFFE starts sequences, 0xFFFF ends entry.
      let off = dataEnd;
      for (let g = 0; g < glyphCount && off + 1 < buf.length; g++) {
        let inSeq = false;
        for (; off + 1 < buf.length;) {
          const v = buf.readUInt16LE(off);
          off += 2;
          if (v === 0xffff) break;
          if (v === 0xfffe) inSeq = true;
          else if (!inSeq && !unicode.has(v)) unicode.set(v, g);
        }
      }
    }
    return { width: 8, height, bytesPerGlyph: height, glyphCount, data, unicode };
  }
  if (buf.readUInt32LE(0) === 0x864ab572) {
    const headerSize = buf.readUInt32LE(8);
    const flags = buf.readUInt32LE(12);
    const glyphCount = buf.readUInt32LE(16);
    const bytesPerGlyph = buf.readUInt32LE(20);
    const height = buf.readUInt32LE(24);
    const width = buf.readUInt32LE(28);
    const dataEnd = headerSize + glyphCount * bytesPerGlyph;
    if (buf.length < dataEnd) throw new Error('truncated PSF2 font');
    const data = new Uint8Array(buf.subarray(headerSize, dataEnd));
    if (flags & 0x01) {
      // Unicode table: per glyph, UTF-8 strings; 0xFE starts a sequence, 0xFF ends the entry.
      let off = dataEnd;
      for (let g = 0; g < glyphCount && off < buf.length; g++) {
        let end = off;
        while (end < buf.length && buf[end] !== 0xff) end++;
        const entry = buf.subarray(off, end);
        off = end + 1;
        const seqAt = entry.indexOf(0xfe);
        const singles = (seqAt >= 0 ? entry.subarray(0, seqAt) : entry).toString('utf8');
        for (const ch of singles) {
          const cp = ch.codePointAt(0);
          if (cp !== undefined && cp !== 0xfffd && !unicode.has(cp)) unicode.set(cp, g);
        }
      }
    }
    return { width, height, bytesPerGlyph, glyphCount, data, unicode };
  }
  throw new Error('not a PSF font');
}

/**
 * Builds a 256-glyph CP437 font from one or more PSF fonts of the same height: each code takes
 * its glyph from the first font that has it (no single Debian console font covers all of CP437).
 * Fonts wider than 8 pixels keep their leftmost 8 columns. Returns the font and the CP437 codes
 * that had no glyph anywhere (drawn as an outlined box).
 */
export function cp437FontFromPsf(
  fonts: PsfFont | PsfFont[],
  source: string,
): { font: BitmapFont; missing: number[] } {
  const list = (Array.isArray(fonts) ? fonts : [fonts]).filter(
    (f, _i, all) => f.height === all[0]?.height,
  );
  const height = list[0]?.height ?? 16;
  const glyphs = new Uint8Array(256 * height);
  const missing: number[] = [];
  for (let code = 1; code < 256; code++) {
    const cp = CP437_TO_UNICODE[code] ?? 0;
    let found = false;
    for (const psf of list) {
      let glyph: number | undefined;
      if (psf.unicode.size === 0) glyph = code < psf.glyphCount ? code : undefined;
      else {
        glyph = psf.unicode.get(cp);
        for (const alt of UNICODE_ALTERNATIVES[cp] ?? []) {
          if (glyph !== undefined) break;
          glyph = psf.unicode.get(alt);
        }
      }
      if (glyph === undefined) continue;
      const rowBytes = Math.ceil(psf.width / 8);
      const base = glyph * psf.bytesPerGlyph;
      for (let y = 0; y < height; y++)
        glyphs[code * height + y] = psf.data[base + y * rowBytes] ?? 0;
      found = true;
      break;
    }
    if (!found) {
      missing.push(code);
      // An outlined box, so a missing glyph is visible but not mistaken for a character.
      for (let y = 2; y < height - 2; y++) {
        glyphs[code * height + y] = y === 2 || y === height - 3 ? 0x7e : 0x42;
      }
    }
  }
  return { font: { width: 8, height, glyphs, source }, missing };
}

let cachedFont: BitmapFont | undefined;

/**
 * Loads the VGA text font. `paths` (or $RAYDESK_CONSOLE_FONT, colon-separated) name PSF files
 * merged in order; by default the installed ones of DEFAULT_FONT_CANDIDATES. Without any,
 * returns a fallback that draws every non-blank glyph as an outlined box (text is then
 * unreadable: install Debian's `console-setup-linux`). The default font is cached per process.
 */
export function loadVgaFont(paths?: string[]): BitmapFont {
  if (!paths && cachedFont) return cachedFont;
  const env = process.env['RAYDESK_CONSOLE_FONT'];
  const candidates = paths ?? (env ? env.split(':') : DEFAULT_FONT_CANDIDATES);
  const files = candidates.filter((p) => p && existsSync(p));
  if (paths && files.length !== paths.length) {
    throw new Error(
      `console font not found: ${paths.filter((p) => !files.includes(p)).join(', ')}`,
    );
  }
  const font =
    files.length > 0
      ? cp437FontFromPsf(
          files.map((f) => parsePsf(readFileSync(f))),
          files.join(':'),
        ).font
      : fallbackFont();
  if (!paths) cachedFont = font;
  return font;
}

function fallbackFont(): BitmapFont {
  const height = 16;
  const glyphs = new Uint8Array(256 * height);
  for (let code = 0; code < 256; code++) {
    if (code === 0 || code === 0x20 || code === 0xff) continue;
    for (let y = 2; y < 14; y++) glyphs[code * height + y] = y === 2 || y === 13 ? 0x7e : 0x42;
  }
  return { width: 8, height, glyphs, source: 'builtin-fallback' };
}
