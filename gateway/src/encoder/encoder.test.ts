import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framebuffer } from './framebuffer.ts';
import { NONE, mergeTiles } from './rects.ts';
import { ClientEncoder, splitRects } from './client-encoder.ts';
import { chooseCodec, sampleRegion } from './codec.ts';
import { paint, renderScene, solid } from './fixtures.ts';
import { RegionCache } from './region-cache.ts';
import { LIMITS, isImageRect, type WireRect } from '../protocol/browser.ts';

const Q = { jpegQuality: 75 };

test('mergeTiles merges runs and stacks equal spans', () => {
  // 4x3 grid: a 2x2 block of key 0 at top-left, a lone key 5 at (3,2).
  const k = NONE;
  const keys = [0, 0, k, k, 0, 0, k, k, k, k, k, 5];
  const rects = mergeTiles(keys, 4, 3);
  assert.deepEqual(rects, [
    { tx0: 0, ty0: 0, tx1: 2, ty1: 2, key: 0 },
    { tx0: 3, ty0: 2, tx1: 4, ty1: 3, key: 5 },
  ]);
  // Different keys never merge.
  assert.equal(mergeTiles([1, 2, 1, 2], 2, 2).length, 2);
  // Area cap splits tall columns.
  const tall = mergeTiles(new Array(40).fill(0), 1, 40, 8);
  assert.equal(tall.length, 5);
});

test('a uniform screen is sent as fills, then nothing when idle', () => {
  const fb = new Framebuffer(1024, 768);
  paint(fb, 0, 0, 1024, 768, solid(1024, 768, 0x336699));
  const enc = new ClientEncoder();
  const first = enc.encode(fb, Q);
  assert.equal(first.full, true);
  assert.ok(first.rects.every((r) => r.enc === 'fill' && r.rgb === 0x336699));
  const area = first.rects.reduce((a, r) => a + r.w * r.h, 0);
  assert.equal(area, 1024 * 768);
  assert.ok(first.rects.length <= 12, `merged into ${first.rects.length} rects`);
  assert.ok(first.bytes < 1000);
  const idle = enc.encode(fb, Q);
  assert.equal(idle.rects.length, 0);
  assert.equal(enc.mayHaveChanges(fb), false);
});

test('only changed tiles are sent, merged into a rectangle', () => {
  const fb = new Framebuffer(640, 480);
  paint(fb, 0, 0, 640, 480, renderScene('terminal', 640, 480));
  const enc = new ClientEncoder();
  enc.encode(fb, Q);
  // Change a 100x20 strip crossing two tile columns in one tile row.
  paint(fb, 100, 70, 100, 20, renderScene('terminal', 100, 20, 7));
  const frame = enc.encode(fb, Q);
  assert.equal(frame.full, false);
  assert.equal(frame.rects.length, 1);
  const r = frame.rects[0]!;
  assert.deepEqual([r.x, r.y, r.w, r.h], [64, 64, 192, 64]);
  assert.equal(r.enc, 'png');
});

test('a change undone before the next send is not sent (diff against last frame sent)', () => {
  const fb = new Framebuffer(256, 256);
  const base = renderScene('ui', 256, 256);
  paint(fb, 0, 0, 256, 256, base);
  const enc = new ClientEncoder();
  enc.encode(fb, Q);
  paint(fb, 10, 10, 8, 16, solid(8, 16, 0xffffff)); // cursor on
  paint(fb, 0, 0, 256, 256, base); // cursor off again
  assert.equal(enc.encode(fb, Q).rects.length, 0);
});

test('two clients diff independently against what each was sent', () => {
  const fb = new Framebuffer(256, 256);
  paint(fb, 0, 0, 256, 256, solid(256, 256, 0));
  const a = new ClientEncoder();
  const b = new ClientEncoder();
  a.encode(fb, Q);
  b.encode(fb, Q);
  paint(fb, 0, 0, 64, 64, solid(64, 64, 0xff0000));
  assert.equal(a.encode(fb, Q).rects.length, 1);
  paint(fb, 192, 192, 64, 64, solid(64, 64, 0x00ff00));
  assert.equal(a.encode(fb, Q).rects.length, 1);
  assert.equal(b.encode(fb, Q).rects.length, 2); // b gets both, coalesced
});

test('codec choice: text and UI go PNG, photos go JPEG, fast-changing AA content goes JPEG', () => {
  const fb = new Framebuffer(512, 512);
  paint(fb, 0, 0, 512, 512, renderScene('terminal', 512, 512));
  const term = sampleRegion(fb, 0, 0, 512, 512);
  paint(fb, 0, 0, 512, 512, renderScene('ui', 512, 512));
  const ui = sampleRegion(fb, 0, 0, 512, 512);
  paint(fb, 0, 0, 512, 512, renderScene('photo', 512, 512));
  const photo = sampleRegion(fb, 0, 0, 512, 512);
  const base = { pixels: 512 * 512, changeRate: 0, textMode: false, lossless: false };
  assert.equal(chooseCodec({ ...base, ...term }), 'png', `terminal ${JSON.stringify(term)}`);
  assert.equal(chooseCodec({ ...base, ...ui }), 'png', `ui ${JSON.stringify(ui)}`);
  assert.equal(chooseCodec({ ...base, ...photo }), 'jpeg', `photo ${JSON.stringify(photo)}`);
  const aa = { colours: 60, flatRatio: 0.7 };
  assert.equal(chooseCodec({ ...base, ...aa, changeRate: 10 }), 'jpeg');
  assert.equal(chooseCodec({ ...base, ...aa, changeRate: 10, pixels: 64 * 64 }), 'png', 'typing');
  assert.equal(chooseCodec({ ...base, colours: 10, flatRatio: 0.9, changeRate: 10 }), 'png');
  assert.equal(chooseCodec({ ...base, ...photo, textMode: true }), 'png');
  assert.equal(chooseCodec({ ...base, ...photo, pixels: 100 }), 'png');
});

test('photo regions are sent as JPEG and refined to PNG once they settle', () => {
  const fb = new Framebuffer(256, 256);
  paint(fb, 0, 0, 256, 256, renderScene('photo', 256, 256), 1000);
  const enc = new ClientEncoder();
  const first = enc.encode(fb, { jpegQuality: 70, now: 1000 });
  assert.ok(first.rects.some((r) => r.enc === 'jpeg'));
  assert.equal(enc.pendingRefinement, true);
  // Not yet settled: nothing.
  assert.equal(enc.encode(fb, { jpegQuality: 70, now: 1500 }).rects.length, 0);
  const refined = enc.encode(fb, { jpegQuality: 70, now: 2500, maxRefineTiles: 100 });
  assert.ok(refined.rects.length > 0 && refined.rects.every((r) => r.enc === 'png'));
  assert.equal(refined.tiles.refined, 16);
  assert.equal(enc.pendingRefinement, false);
});

test('a resize or reset sends a full frame', () => {
  const fb = new Framebuffer(320, 200, 'text');
  paint(fb, 0, 0, 320, 200, renderScene('terminal', 320, 200));
  const enc = new ClientEncoder();
  enc.encode(fb, Q);
  enc.reset();
  const again = enc.encode(fb, Q);
  assert.equal(again.full, true);
  assert.ok(again.rects.every((r) => r.enc !== 'jpeg'));
  fb.resize(800, 600, 'graphical');
  const resized = enc.encode(fb, Q);
  assert.equal(resized.full, true);
  assert.equal(
    resized.rects.reduce((a, r) => a + r.w * r.h, 0),
    800 * 600,
  );
});

test('splitRects keeps every part under the cap', () => {
  const big = (n: number): WireRect => ({
    enc: 'png',
    x: 0,
    y: 0,
    w: 1,
    h: 1,
    data: new Uint8Array(n),
  });
  const parts = splitRects(
    [big(400), big(400), big(400), { enc: 'fill', x: 0, y: 0, w: 1, h: 1, rgb: 0 }],
    1000,
  );
  assert.equal(parts.length, 2);
  assert.equal(parts.flat().length, 4);
  assert.deepEqual(splitRects([], 1000), [[]]);
  // socket.io's decoder takes at most 10 binary attachments per message: images are capped.
  const many = [...Array.from({ length: 23 }, () => big(10)), ...parts.flat().slice(3)];
  const capped = splitRects(many, 1_000_000);
  assert.deepEqual(
    capped.map((part) => part.filter((r) => r.enc !== 'fill').length),
    [10, 10, 3],
  );
  assert.equal(capped.flat().length, 24);
});

test('splitRects puts at most maxImagesPerMessage images in a part (fills do not count)', () => {
  const image: WireRect = { enc: 'png', x: 0, y: 0, w: 1, h: 1, data: new Uint8Array(10) };
  const fill: WireRect = { enc: 'fill', x: 0, y: 0, w: 1, h: 1, rgb: 0 };
  const rects = Array.from({ length: 25 }, (_, i) => (i % 5 === 4 ? fill : image));
  const parts = splitRects(rects, 1_000_000);
  assert.equal(LIMITS.maxImagesPerMessage, 10);
  for (const part of parts) assert.ok(part.filter((r) => r.enc !== 'fill').length <= 10);
  assert.deepEqual(parts.flat(), rects, 'every rect, in order');
  assert.equal(parts.length, 2);
});

test('a full desktop-size frame encodes with every part below the message cap', () => {
  const fb = new Framebuffer(1024, 768);
  paint(fb, 0, 0, 1024, 768, renderScene('photo', 1024, 768));
  const enc = new ClientEncoder();
  const frame = enc.encode(fb, { jpegQuality: 80 });
  for (const r of frame.rects) if (isImageRect(r)) assert.ok(r.data.length < 700_000);
});

test('two in-sync viewers of one VM encode each region once; the second reuses the bytes', () => {
  const fb = new Framebuffer(1024, 768);
  paint(fb, 0, 0, 1024, 768, renderScene('ui', 1024, 768));
  const regions = new RegionCache();
  const [a, b] = [new ClientEncoder(), new ClientEncoder()];
  const opts = { jpegQuality: 80, regions };
  const firstA = a.encode(fb, opts);
  const firstB = b.encode(fb, opts);
  assert.ok(firstA.regions.encoded > 0);
  assert.deepEqual(firstB.regions, { encoded: 0, reused: firstA.regions.encoded });
  assert.deepEqual(firstB.rects, firstA.rects);
  for (let frame = 1; frame <= 5; frame++) {
    paint(fb, 100 * frame, 200, 150, 90, renderScene('terminal', 150, 90, frame));
    const before = regions.encoded;
    const sentA = a.encode(fb, opts);
    const sentB = b.encode(fb, opts);
    assert.ok(sentA.regions.encoded > 0, 'the first viewer encodes');
    assert.equal(regions.encoded - before, sentA.regions.encoded, 'one encode per frame, not two');
    assert.equal(sentB.regions.reused, sentA.regions.encoded);
    assert.deepEqual(sentB.rects, sentA.rects);
  }
});

test('a viewer at another JPEG quality or a lagging viewer gets its own encoding', () => {
  const fb = new Framebuffer(640, 480);
  paint(fb, 0, 0, 640, 480, renderScene('photo', 640, 480));
  const regions = new RegionCache();
  const [fast, slow] = [new ClientEncoder(), new ClientEncoder()];
  fast.encode(fb, { jpegQuality: 80, regions });
  const lowQuality = slow.encode(fb, { jpegQuality: 40, regions });
  assert.ok(lowQuality.tiles.jpeg > 0);
  assert.ok(lowQuality.regions.encoded > 0, 'JPEG at another quality is encoded again');
  // The slow viewer skips a generation (its frame was in flight) and coalesces two changes.
  paint(fb, 0, 0, 64, 64, solid(64, 64, 0x102030));
  fast.encode(fb, { jpegQuality: 80, regions });
  paint(fb, 320, 320, 64, 64, renderScene('terminal', 64, 64, 3));
  const fastSecond = fast.encode(fb, { jpegQuality: 80, regions });
  const coalesced = slow.encode(fb, { jpegQuality: 80, regions });
  assert.equal(fastSecond.rects.length, 1);
  // The slow viewer gets both changes in one update: the fill and the region the fast viewer
  // already had encoded in this generation.
  assert.deepEqual(
    coalesced.rects.map((r) => [r.enc, r.x, r.y]),
    [
      ['fill', 0, 0],
      [fastSecond.rects[0]!.enc, 320, 320],
    ],
  );
  assert.equal(coalesced.regions.reused, 1);
});

test('a keyframe of the same picture changes no tile; one that differs changes only its tiles', () => {
  const fb = new Framebuffer(200, 130);
  const picture = renderScene('ui', 200, 130);
  paint(fb, 0, 0, 200, 130, picture);
  const versions = Uint32Array.from(fb.version);
  // The host's pixels carry alpha 0; the framebuffer keeps them opaque.
  const again = Uint8Array.from(picture);
  for (let i = 3; i < again.length; i += 4) again[i] = 0;
  assert.equal(fb.applyRectsChanged([{ x: 0, y: 0, w: 200, h: 130 }], again), 0);
  assert.deepEqual(fb.version, versions);
  const pixel = (70 * 200 + 150) * 4; // in tile (2, 1)
  again[pixel] = again[pixel]! ^ 0xff;
  assert.equal(fb.applyRectsChanged([{ x: 0, y: 0, w: 200, h: 130 }], again), 1);
  const changed = [...fb.version.keys()].filter((t) => fb.version[t] !== versions[t]);
  assert.deepEqual(changed, [1 * fb.tilesX + 2]);
  assert.equal(fb.data[pixel], again[pixel]);
  assert.equal(fb.data[pixel + 3], 255);
});
