import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import {
  CP437_TO_UNICODE,
  DEFAULT_FONT_CANDIDATES,
  cp437FontFromPsf,
  loadVgaFont,
  parsePsf,
} from './font.ts';

/** A PSF2 font of 3 glyphs, 8x16, glyph i filled with byte (i+1), with a Unicode table. */
function psf2(): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0x864ab572, 0);
  header.writeUInt32LE(0, 4);
  header.writeUInt32LE(32, 8);
  header.writeUInt32LE(1, 12); // has Unicode table
  header.writeUInt32LE(3, 16);
  header.writeUInt32LE(16, 20);
  header.writeUInt32LE(16, 24);
  header.writeUInt32LE(8, 28);
  const glyphs = Buffer.alloc(3 * 16);
  for (let g = 0; g < 3; g++) glyphs.fill(g + 1, g * 16, g * 16 + 16);
  const table = Buffer.concat([
    Buffer.from('A', 'utf8'),
    Buffer.from([0xff]),
    Buffer.from('╔', 'utf8'),
    Buffer.from([0xfe]),
    Buffer.from('xy', 'utf8'),
    Buffer.from([0xff]),
    Buffer.from('☺β', 'utf8'),
    Buffer.from([0xff]),
  ]);
  return Buffer.concat([header, glyphs, table]);
}

/** A PSF1 font of 256 glyphs, height 8, glyph i's first row = i, no Unicode table. */
function psf1(): Buffer {
  const data = Buffer.alloc(256 * 8);
  for (let g = 0; g < 256; g++) data[g * 8] = g;
  return Buffer.concat([Buffer.from([0x36, 0x04, 0x00, 8]), data]);
}

test('CP437 table has 256 entries with the classic points', () => {
  assert.equal(CP437_TO_UNICODE.length, 256);
  assert.equal(CP437_TO_UNICODE[0x41], 0x41);
  assert.equal(CP437_TO_UNICODE[0x01], 0x263a);
  assert.equal(CP437_TO_UNICODE[0xc9], 0x2554);
  assert.equal(CP437_TO_UNICODE[0xdb], 0x2588);
  assert.equal(CP437_TO_UNICODE[0xff], 0x00a0);
});

test('parses gzipped PSF2 with a Unicode table and maps through CP437', () => {
  const font = parsePsf(gzipSync(psf2()));
  assert.equal(font.width, 8);
  assert.equal(font.height, 16);
  assert.equal(font.glyphCount, 3);
  assert.equal(font.unicode.get(0x41), 0);
  assert.equal(font.unicode.get(0x2554), 1);
  assert.equal(font.unicode.has('x'.codePointAt(0)!), false); // sequences are skipped
  const { font: cp, missing } = cp437FontFromPsf(font, 't');
  assert.equal(cp.glyphs[0x41 * 16], 1);
  assert.equal(cp.glyphs[0xc9 * 16 + 5], 2);
  assert.equal(cp.glyphs[0x01 * 16], 3);
  assert.equal(cp.glyphs[0xe1 * 16], 3); // ß falls back to β
  assert.ok(missing.includes(0x42));
  assert.ok(!missing.includes(0x41));
});

test('parses PSF1 without a table: glyph index = CP437 code', () => {
  const font = parsePsf(psf1());
  assert.equal(font.height, 8);
  assert.equal(font.glyphCount, 256);
  const { font: cp, missing } = cp437FontFromPsf(font, 't');
  assert.deepEqual(missing, []);
  assert.equal(cp.glyphs[0x41 * 8], 0x41);
});

test('merges fonts: later fonts fill glyphs the first lacks', () => {
  const { missing } = cp437FontFromPsf([parsePsf(psf2()), parsePsf(psf2())], 't');
  const { font } = cp437FontFromPsf([parsePsf(psf2())], 't');
  assert.ok(missing.length > 0);
  assert.equal(font.glyphs[0x41 * 16], 1);
});

test('rejects non-PSF input', () => {
  assert.throws(() => parsePsf(Buffer.from('hello world, not a font')));
});

const installed = DEFAULT_FONT_CANDIDATES.slice(0, 2).every((p) => existsSync(p));
test(
  'the Debian console fonts cover all of CP437',
  { skip: !installed && 'console-setup-linux not installed' },
  () => {
    const psfs = DEFAULT_FONT_CANDIDATES.filter((p) => existsSync(p)).map((p) =>
      parsePsf(readFileSync(p)),
    );
    const { font, missing } = cp437FontFromPsf(psfs, 'debian');
    assert.deepEqual(missing, []);
    assert.equal(font.height, 16);
    const vga = loadVgaFont();
    assert.notEqual(vga.source, 'builtin-fallback');
    // 'A' has ink; space has none.
    assert.ok(vga.glyphs.subarray(0x41 * 16, 0x42 * 16).some((b) => b !== 0));
    assert.ok(vga.glyphs.subarray(0x20 * 16, 0x21 * 16).every((b) => b === 0));
  },
);
