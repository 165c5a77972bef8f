import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCanvas, loadImage } from 'canvas';
import { isImageRect, type WireRect } from '../protocol/browser.ts';
import { Framebuffer, TILE } from './framebuffer.ts';
import { ClientEncoder, type EncodedFrame } from './client-encoder.ts';
import { encodeRegion, extractRegion } from './codec.ts';
import { paint, renderScene, solid } from './fixtures.ts';
import { RegionCache } from './region-cache.ts';
import {
  WATERMARK_PERIOD_MS,
  WATERMARK_SPREAD_MS,
  WATERMARK_STRENGTH,
  WatermarkLibrary,
  watermarkLines,
  watermarkOffsetMs,
  type Watermark,
} from './watermark.ts';

const Q = { jpegQuality: 75 };
const AT = Date.UTC(2026, 10, 27, 14, 5, 30);
const library = new WatermarkLibrary();
const ada = (at = AT, address = '::ffff:203.0.113.7') =>
  library.get({ email: 'ada@example.test', at, address });

/** Paints the frame's rects onto a screen-sized RGBA picture, decoding PNG and JPEG. */
async function paintFrame(picture: Uint8ClampedArray, width: number, frame: EncodedFrame) {
  for (const rect of frame.rects) await paintRect(picture, width, rect);
}

async function paintRect(picture: Uint8ClampedArray, width: number, rect: WireRect) {
  let pixels: Uint8ClampedArray;
  if (rect.enc === 'fill') {
    pixels = Uint8ClampedArray.from(solid(rect.w, rect.h, rect.rgb));
  } else if (rect.enc === 'copy') {
    throw new Error('a watermarked picture is never sent as copies');
  } else {
    const image = await loadImage(Buffer.from(rect.data));
    const canvas = createCanvas(rect.w, rect.h);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(image, 0, 0);
    pixels = ctx.getImageData(0, 0, rect.w, rect.h).data;
  }
  for (let row = 0; row < rect.h; row++) {
    const start = row * rect.w * 4;
    picture.set(pixels.subarray(start, start + rect.w * 4), ((rect.y + row) * width + rect.x) * 4);
  }
}

/** The screen as the watermark should make it: the VM's pixels with the stamp blended in. */
function stamped(fb: Framebuffer, watermark: Watermark): Uint8ClampedArray {
  const expected = extractRegion(fb, 0, 0, fb.width, fb.height);
  watermark.apply(expected, 0, 0, fb.width, fb.height);
  return expected;
}

test('the watermark shows the email, the minute in UTC and the address', () => {
  assert.deepEqual(
    watermarkLines({ email: 'ada@example.test', at: AT, address: '::ffff:10.1.2.3' }),
    ['ada@example.test', '2026-11-27 14:05 UTC · 10.1.2.3'],
  );
  assert.equal(
    watermarkLines({ email: 'b@example.test', at: AT, address: '2001:db8::7' })[1],
    '2026-11-27 14:05 UTC · 2001:db8::7',
  );
  // Within one minute the text, and so the rendering, is the same object.
  assert.equal(ada(AT), ada(AT + 20_000));
  assert.notEqual(ada(AT), ada(AT + WATERMARK_PERIOD_MS));
  const long = watermarkLines({ email: `${'x'.repeat(300)}@example.test`, at: AT, address: '' });
  assert.equal(long[0].length, 64, 'long emails are clipped');
  assert.match(long[1], /unknown address$/);
});

test('each email and address moves on at its own fixed offset past the minute', () => {
  const offsets = Array.from({ length: 50 }, (_, i) =>
    watermarkOffsetMs(`user${i}@example.test`, '203.0.113.7'),
  );
  assert.ok(offsets.every((o) => Number.isInteger(o) && o >= 0 && o < WATERMARK_SPREAD_MS));
  assert.ok(new Set(offsets).size > 40, 'spread over the window');
  assert.notEqual(
    watermarkOffsetMs('a@example.test', '10.0.0.1'),
    watermarkOffsetMs('a@example.test', '10.0.0.2'),
  );
});

test('the watermark is in the encoded pixels: PNG rects decode to the stamped picture', async () => {
  const fb = new Framebuffer(640, 480);
  paint(fb, 0, 0, 640, 480, solid(640, 480, 0x3a6ea5));
  paint(fb, 100, 100, 300, 200, renderScene('ui', 300, 200));
  const watermark = ada();
  const encoder = new ClientEncoder();
  encoder.setWatermark(watermark);
  const frame = encoder.encode(fb, Q);
  assert.ok(
    frame.rects.every((r) => r.enc !== 'jpeg'),
    'UI and flat areas go PNG',
  );
  const picture = new Uint8ClampedArray(640 * 480 * 4);
  await paintFrame(picture, 640, frame);
  const expected = stamped(fb, watermark);
  assert.deepEqual(picture, expected);
  // And that picture differs from the VM's own in the faint pattern, nowhere else.
  let inked = 0;
  let maxShift = 0;
  for (let y = 0; y < 480; y++) {
    for (let x = 0; x < 640; x++) {
      const o = (y * 640 + x) * 4;
      const shift = Math.abs(picture[o]! - fb.data[o]!);
      const ink = watermark.mask[(y % watermark.height) * watermark.width + (x % watermark.width)]!;
      if (ink === 0) assert.equal(shift, 0, `no stamp at ${x},${y}`);
      else inked++;
      maxShift = Math.max(maxShift, shift);
    }
  }
  assert.ok(inked > 640 * 480 * 0.02, `the stamp covers ${inked} pixels`);
  assert.ok(maxShift > 20 && maxShift <= WATERMARK_STRENGTH, `faint: at most ${maxShift} levels`);
  // Uniform tiles with ink are images now; those without stay fills.
  const ink = watermark.inkedTiles(640, 480);
  for (const rect of frame.rects) {
    const t = Math.floor(rect.y / TILE) * fb.tilesX + Math.floor(rect.x / TILE);
    if (rect.enc === 'fill') assert.equal(ink[t], 0, `fill at an inked tile ${rect.x},${rect.y}`);
  }
});

test('the watermark is in JPEG rects too: their pixels shift where the pattern inks', async () => {
  const fb = new Framebuffer(512, 384);
  paint(fb, 0, 0, 512, 384, renderScene('photo', 512, 384));
  const watermark = ada();
  const plain = new ClientEncoder().encode(fb, Q);
  const marked = new ClientEncoder();
  marked.setWatermark(watermark);
  const frame = marked.encode(fb, Q);
  assert.ok(frame.tiles.jpeg > 0, 'a photo goes JPEG');
  const [a, b] = [new Uint8ClampedArray(512 * 384 * 4), new Uint8ClampedArray(512 * 384 * 4)];
  await paintFrame(a, 512, plain);
  await paintFrame(b, 512, frame);
  // Mean luminance shift where the pattern inks fully, and where it does not ink at all.
  const shift = { ink: 0, inkN: 0, clear: 0, clearN: 0 };
  for (let i = 0; i < 512 * 384; i++) {
    const x = i % 512;
    const y = Math.floor(i / 512);
    const m = watermark.mask[(y % watermark.height) * watermark.width + (x % watermark.width)]!;
    const d = Math.abs(a[i * 4]! + a[i * 4 + 1]! - b[i * 4]! - b[i * 4 + 1]!) / 2;
    if (m >= WATERMARK_STRENGTH - 2) [shift.ink, shift.inkN] = [shift.ink + d, shift.inkN + 1];
    if (m === 0) [shift.clear, shift.clearN] = [shift.clear + d, shift.clearN + 1];
  }
  const onInk = shift.ink / shift.inkN;
  const offInk = shift.clear / shift.clearN;
  assert.ok(
    onInk > 4 * offInk && onInk > 15,
    `shift ${onInk.toFixed(1)} on ink, ${offInk.toFixed(1)} off`,
  );
});

test('viewers with the same watermark share encoded regions; other watermarks do not', () => {
  const fb = new Framebuffer(1024, 768);
  paint(fb, 0, 0, 1024, 768, renderScene('ui', 1024, 768));
  const regions = new RegionCache();
  const opts = { ...Q, regions };
  const [a, b, other, none] = [1, 2, 3, 4].map(() => new ClientEncoder());
  a!.setWatermark(ada());
  b!.setWatermark(ada(AT + 10_000));
  other!.setWatermark(ada(AT, '198.51.100.9'));
  const first = a!.encode(fb, opts);
  const same = b!.encode(fb, opts);
  assert.ok(first.regions.encoded > 0);
  assert.deepEqual(same.regions, { encoded: 0, reused: first.regions.encoded });
  assert.deepEqual(same.rects, first.rects);
  const different = other!.encode(fb, opts);
  assert.equal(different.regions.reused, 0, 'another address is another stamp');
  assert.ok(different.regions.encoded > 0);
  const unmarked = none!.encode(fb, opts);
  assert.equal(unmarked.regions.reused, 0, 'an unmarked viewer never gets a stamped region');
  // Later frames: same-watermark viewers keep sharing.
  paint(fb, 300, 200, 150, 90, renderScene('terminal', 150, 90, 2));
  const nextA = a!.encode(fb, opts);
  const nextB = b!.encode(fb, opts);
  assert.ok(nextA.regions.encoded > 0);
  assert.equal(nextB.regions.reused, nextA.regions.encoded);
  assert.equal(nextB.regions.encoded, 0);
});

test('no watermark: every image rect is the plain encoding of the VM pixels, as before', () => {
  const fb = new Framebuffer(640, 480);
  paint(fb, 0, 0, 640, 480, renderScene('ui', 640, 480));
  paint(fb, 320, 0, 320, 240, renderScene('photo', 320, 240));
  const plain = new ClientEncoder();
  const toggled = new ClientEncoder();
  toggled.setWatermark(ada());
  toggled.setWatermark(null);
  for (let step = 0; step < 4; step++) {
    const frame = plain.encode(fb, Q);
    assert.deepEqual(toggled.encode(fb, Q).rects, frame.rects);
    for (const r of frame.rects) {
      if (!isImageRect(r)) continue;
      assert.deepEqual(r.data, encodeRegion(fb, r.x, r.y, r.w, r.h, r.enc, Q.jpegQuality));
    }
    paint(fb, 64 * step, 300, 100, 40, renderScene('terminal', 100, 40, step));
  }
});

test('when the minute moves on, only tiles whose stamp changed are sent, a bounded number per frame', async () => {
  const fb = new Framebuffer(1024, 768);
  paint(fb, 0, 0, 1024, 768, solid(1024, 768, 0x20242c));
  paint(fb, 200, 150, 420, 300, renderScene('ui', 420, 300));
  const encoder = new ClientEncoder();
  const before = ada(AT);
  encoder.setWatermark(before);
  const picture = new Uint8ClampedArray(1024 * 768 * 4);
  await paintFrame(picture, 1024, encoder.encode(fb, Q));
  assert.equal(encoder.encode(fb, Q).rects.length, 0, 'idle: nothing');

  const after = ada(AT + WATERMARK_PERIOD_MS);
  const changed = after.changedTiles(before, 1024, 768);
  const expectedTiles = changed.reduce((a, b) => a + b, 0);
  const inkedTiles = after.inkedTiles(1024, 768).reduce((a, b) => a + b, 0);
  assert.ok(expectedTiles > 0 && expectedTiles < inkedTiles, `${expectedTiles} of ${inkedTiles}`);
  encoder.setWatermark(after);
  assert.equal(encoder.pendingRestamp, expectedTiles);
  assert.equal(encoder.mayHaveChanges(fb), true);
  const cap = Math.ceil(expectedTiles / 3);
  let sent = 0;
  let frames = 0;
  while (encoder.pendingRestamp > 0) {
    const frame = encoder.encode(fb, { ...Q, maxRestampTiles: cap });
    assert.ok(frame.tiles.restamped <= cap);
    for (const r of frame.rects) {
      for (let ty = r.y / TILE; ty < (r.y + r.h) / TILE; ty++)
        for (let tx = r.x / TILE; tx < (r.x + r.w) / TILE; tx++)
          assert.equal(changed[ty * fb.tilesX + tx], 1, `tile ${tx},${ty} did not change`);
    }
    sent += frame.tiles.restamped;
    frames++;
    await paintFrame(picture, 1024, frame);
  }
  assert.equal(sent, expectedTiles);
  assert.equal(frames, 3);
  assert.deepEqual(picture, stamped(fb, after), 'the viewer now has the new minute everywhere');
  assert.equal(encoder.encode(fb, Q).rects.length, 0);

  // Watermark off: inked tiles go back to the VM's own pixels (fills where uniform).
  encoder.setWatermark(null);
  while (encoder.pendingRestamp > 0) await paintFrame(picture, 1024, encoder.encode(fb, Q));
  assert.deepEqual(picture, extractRegion(fb, 0, 0, 1024, 768));
});

test('a tile that changes while stale is sent once, with the current stamp', async () => {
  const fb = new Framebuffer(256, 256);
  paint(fb, 0, 0, 256, 256, solid(256, 256, 0xf0f0f0));
  const encoder = new ClientEncoder();
  encoder.setWatermark(ada(AT));
  encoder.encode(fb, Q);
  const after = ada(AT + WATERMARK_PERIOD_MS);
  encoder.setWatermark(after);
  const pending = encoder.pendingRestamp;
  paint(fb, 0, 0, 256, 256, renderScene('ui', 256, 256));
  const frame = encoder.encode(fb, Q);
  assert.equal(frame.tiles.restamped, 0, 'changed tiles carry the new stamp anyway');
  assert.ok(pending > 0 && encoder.pendingRestamp === 0);
  const picture = new Uint8ClampedArray(256 * 256 * 4);
  await paintFrame(picture, 256, frame);
  assert.deepEqual(picture, stamped(fb, after));
});
