// Moved pixels go as copies: a dragged window and a scrolled terminal. The viewer's picture,
// painted from the rects over the previous one, is the new screen exactly, for fewer bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientEncoder, type EncodedFrame } from './client-encoder.ts';
import { paint, paintRects, renderScene, solid } from './fixtures.ts';
import { Framebuffer } from './framebuffer.ts';
import { WatermarkLibrary } from './watermark.ts';

const W = 640;
const H = 480;
const DESKTOP = 0x3a6ea5;
const window = renderScene('ui', 200, 150, 5);

/** Frames a few seconds apart, so that tiles stay lossless (PNG) and pictures compare exactly. */
let clock = 0;
function desktopWithWindowAt(fb: Framebuffer, x: number, y: number): void {
  clock += 5_000;
  paint(fb, 0, 0, W, H, solid(W, H, DESKTOP), clock);
  paint(fb, x, y, 200, 150, window, clock);
}

/** Encodes the drag (window at each place in turn) with and without copies. */
function drag(places: Array<[number, number]>, copies: boolean) {
  const fb = new Framebuffer(W, H);
  const encoder = new ClientEncoder();
  desktopWithWindowAt(fb, ...places[0]!);
  let picture = paintRects(encoder.encode(fb, { jpegQuality: 80, copies, now: clock }).rects, W, H);
  const frames: EncodedFrame[] = [];
  for (const place of places.slice(1)) {
    desktopWithWindowAt(fb, ...place);
    const frame = encoder.encode(fb, { jpegQuality: 80, copies, now: clock });
    frames.push(frame);
    picture = paintRects(frame.rects, W, H, picture);
    assert.deepEqual(
      picture,
      fb.data,
      `the viewer's picture is the screen with the window at ${place}`,
    );
  }
  return frames;
}

test('a dragged window goes as copies of what the viewer has, for a fraction of the bytes', () => {
  const places: Array<[number, number]> = [
    [100, 100],
    [137, 123],
    [180, 118],
    [150, 160],
    [90, 140],
  ];
  const withCopies = drag(places, true);
  const without = drag(places, false);
  for (const frame of withCopies) {
    const copies = frame.rects.filter((r) => r.enc === 'copy');
    assert.ok(copies.length > 0, 'the window’s inside is copied');
    assert.ok(frame.tiles.copy >= 2);
    // Copies come first: they read the picture from before the update.
    const firstOther = frame.rects.findIndex((r) => r.enc !== 'copy');
    assert.ok(firstOther === -1 || firstOther === copies.length);
  }
  const bytes = (frames: EncodedFrame[]) => frames.reduce((sum, f) => sum + f.bytes, 0);
  assert.ok(
    bytes(withCopies) < 0.5 * bytes(without),
    `${bytes(withCopies)} bytes with copies, ${bytes(without)} without`,
  );
});

test('a terminal scrolled by a line goes as one vertical copy and the new line', () => {
  const fb = new Framebuffer(W, H);
  const tall = renderScene('terminal', W, H + 16, 3);
  const rowBytes = W * 4;
  paint(fb, 0, 0, W, H, tall.subarray(0, H * rowBytes));
  const encoder = new ClientEncoder();
  let picture = paintRects(encoder.encode(fb, { jpegQuality: 80, copies: true }).rects, W, H);
  paint(fb, 0, 0, W, H, tall.subarray(16 * rowBytes, (H + 16) * rowBytes));
  const frame = encoder.encode(fb, { jpegQuality: 80, copies: true });
  picture = paintRects(frame.rects, W, H, picture);
  assert.deepEqual(picture, fb.data);
  const copies = frame.rects.filter((r) => r.enc === 'copy');
  assert.ok(copies.length > 0);
  assert.ok(copies.every((r) => r.enc === 'copy' && r.sx === r.x && r.sy === r.y + 16));
});

test('nothing is copied on a watermarked picture, nor on a full frame', () => {
  const fb = new Framebuffer(W, H);
  desktopWithWindowAt(fb, 100, 100);
  const encoder = new ClientEncoder();
  encoder.setWatermark(
    new WatermarkLibrary().get({ email: 'a@example.test', address: '10.0.0.1', at: Date.now() }),
  );
  const first = encoder.encode(fb, { jpegQuality: 80, copies: true });
  assert.equal(first.full, true);
  assert.ok(first.rects.every((r) => r.enc !== 'copy'));
  desktopWithWindowAt(fb, 140, 130);
  const moved = encoder.encode(fb, { jpegQuality: 80, copies: true });
  assert.ok(moved.rects.length > 0);
  assert.ok(
    moved.rects.every((r) => r.enc !== 'copy'),
    'a copy would move the stamp',
  );
});
