import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientEncoder } from './client-encoder.ts';
import { paint, paintRects, renderScene, solid } from './fixtures.ts';
import { Framebuffer } from './framebuffer.ts';
import { BLOCK, KeyframeCache } from './keyframe.ts';

function screen(): Framebuffer {
  const fb = new Framebuffer(1024, 768);
  paint(fb, 0, 0, 1024, 768, renderScene('ui', 1024, 768));
  paint(fb, 600, 400, 400, 300, renderScene('terminal', 400, 300));
  return fb;
}

test('a keyframe covers the screen and paints exactly the framebuffer', async () => {
  const fb = screen();
  const cache = new KeyframeCache();
  const keyframe = cache.get(fb);
  const area = keyframe.rects.reduce((sum, r) => sum + r.w * r.h, 0);
  assert.equal(area, 1024 * 768);
  assert.equal(keyframe.tiles.jpeg, 0, 'UI and text go lossless');
  assert.deepEqual(paintRects(keyframe.rects, 1024, 768), fb.data);
  assert.deepEqual(keyframe.blocks, { encoded: 12, reused: 0 });
});

test('after a change only the blocks it touched are encoded again, and the result is current', async () => {
  const fb = screen();
  const cache = new KeyframeCache();
  cache.get(fb);
  assert.equal(cache.stale(fb), false);
  // A 30x20 px change inside one block (tile 5,5 is in block 1,1).
  paint(fb, 330, 330, 30, 20, solid(30, 20, 0xcc3311));
  assert.equal(cache.stale(fb), true);
  const again = cache.get(fb);
  assert.deepEqual(again.blocks, { encoded: 1, reused: 11 });
  assert.deepEqual(paintRects(again.rects, 1024, 768), fb.data);
  // refresh() does the encoding ahead of time; get() then reuses every block.
  paint(fb, 10, 700, 50, 50, solid(50, 50, 0x00ff00));
  assert.equal(cache.refresh(fb), 1);
  assert.deepEqual(cache.get(fb).blocks, { encoded: 0, reused: 12 });
});

test('a refresh in slices: each slice encodes at least one block, until none is left', async () => {
  const fb = screen();
  const cache = new KeyframeCache();
  // A budget of 0 ms stops after every block: 12 slices for a 1024x768 screen.
  let slices = 1;
  while (!cache.refreshFor(fb, 0)) slices++;
  assert.equal(slices, 12);
  assert.equal(cache.stale(fb), false);
  assert.deepEqual(cache.get(fb).blocks, { encoded: 0, reused: 12 });
  // A change between slices is picked up by the next one.
  paint(fb, 330, 330, 30, 20, solid(30, 20, 0xcc3311));
  paint(fb, 900, 700, 30, 20, solid(30, 20, 0x1133cc));
  assert.equal(cache.refreshFor(fb, 0), false);
  paint(fb, 10, 10, 30, 20, solid(30, 20, 0x33cc11));
  assert.equal(cache.refreshFor(fb, Infinity), true);
  const keyframe = cache.get(fb);
  assert.deepEqual(keyframe.blocks, { encoded: 0, reused: 12 });
  assert.deepEqual(paintRects(keyframe.rects, 1024, 768), fb.data);
});

test('a resize makes every block new; edge blocks are cut to the screen', async () => {
  const fb = screen();
  const cache = new KeyframeCache();
  cache.get(fb);
  fb.resize(800, 600, 'graphical');
  paint(fb, 0, 0, 800, 600, renderScene('terminal', 800, 600, 3));
  const keyframe = cache.get(fb);
  const blocks = Math.ceil(fb.tilesX / BLOCK) * Math.ceil(fb.tilesY / BLOCK);
  assert.deepEqual(keyframe.blocks, { encoded: blocks, reused: 0 });
  for (const r of keyframe.rects) assert.ok(r.x + r.w <= 800 && r.y + r.h <= 600);
  assert.deepEqual(paintRects(keyframe.rects, 800, 600), fb.data);
});

test('viewers sharing a keyframe cache: the second full frame reuses it, then diffs go on as usual', async () => {
  const fb = screen();
  const cache = new KeyframeCache();
  const first = new ClientEncoder();
  const a = first.encode(fb, { jpegQuality: 80, keyframe: cache });
  assert.equal(a.full, true);
  assert.equal(a.keyframeBlocks?.encoded, 12);
  paint(fb, 100, 100, 20, 10, solid(20, 10, 0x123456));
  // The first viewer gets the change as a diff; the second arrives and gets the whole screen.
  const diff = first.encode(fb, { jpegQuality: 80, keyframe: cache });
  assert.equal(diff.full, false);
  assert.equal(diff.rects.length, 1);
  const second = new ClientEncoder();
  const b = second.encode(fb, { jpegQuality: 80, keyframe: cache });
  assert.equal(b.full, true);
  assert.deepEqual(b.keyframeBlocks, { encoded: 1, reused: 11 });
  assert.deepEqual(paintRects(b.rects, 1024, 768), fb.data);
  // The second viewer is now in sync: nothing more to send until the screen changes.
  assert.equal(second.encode(fb, { jpegQuality: 80, keyframe: cache }).rects.length, 0);
  paint(fb, 900, 20, 8, 8, solid(8, 8, 0xffffff));
  const next = second.encode(fb, { jpegQuality: 80, keyframe: cache });
  assert.equal(next.full, false);
  assert.deepEqual(
    next.rects.map((r) => [r.x, r.y, r.w, r.h]),
    [[896, 0, 64, 64]],
  );
});

test('photo-like blocks go JPEG and are marked for lossless refinement', () => {
  const fb = new Framebuffer(512, 256);
  paint(fb, 0, 0, 512, 256, renderScene('photo', 512, 256));
  const enc = new ClientEncoder();
  const frame = enc.encode(fb, { jpegQuality: 80, keyframe: new KeyframeCache() });
  assert.ok(frame.tiles.jpeg > 0);
  assert.equal(enc.pendingRefinement, true);
  // Once settled, the refinement re-sends those tiles losslessly.
  const later = enc.encode(fb, { jpegQuality: 80, now: Date.now() + 5_000, maxRefineTiles: 64 });
  assert.ok(later.rects.length > 0 && later.rects.every((r) => r.enc === 'png'));
});
