import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ClientEncoder } from '../encoder/client-encoder.ts';
import { Framebuffer } from '../encoder/framebuffer.ts';
import {
  DEFAULT_SMALL_UPDATE_TILES,
  FlushTimer,
  frameDelayMs,
  type PacingState,
} from './pacing.ts';

const justSent: PacingState = {
  now: 1_000,
  nextAllowed: 1_033,
  delayMs: 0,
  changedTiles: 1,
  smallUpdateTiles: DEFAULT_SMALL_UPDATE_TILES,
};

test('a small update goes at once, inside the minimum interval of the last frame', () => {
  assert.equal(frameDelayMs(justSent), 0);
  assert.equal(frameDelayMs({ ...justSent, changedTiles: DEFAULT_SMALL_UPDATE_TILES }), 0);
  // Even in the slowest quality tier.
  assert.equal(frameDelayMs({ ...justSent, nextAllowed: 1_333 }), 0);
});

test('a big update waits out the minimum interval', () => {
  assert.equal(frameDelayMs({ ...justSent, changedTiles: DEFAULT_SMALL_UPDATE_TILES + 1 }), 33);
  assert.equal(frameDelayMs({ ...justSent, changedTiles: 192, now: 1_050 }), 0);
});

test('an asked-for delay is kept, and 0 small tiles restores the interval for every update', () => {
  assert.equal(frameDelayMs({ ...justSent, delayMs: 300 }), 300);
  assert.equal(frameDelayMs({ ...justSent, smallUpdateTiles: 0 }), 33);
});

test('the encoder counts the tiles a viewer has not been sent, and a full frame as all', () => {
  const fb = new Framebuffer(640, 480, 'graphical');
  const encoder = new ClientEncoder();
  const all = fb.tilesX * fb.tilesY;
  assert.equal(encoder.changedTiles(fb, DEFAULT_SMALL_UPDATE_TILES), all, 'nothing sent yet');
  encoder.encode(fb, { jpegQuality: 80 });
  assert.equal(encoder.changedTiles(fb, DEFAULT_SMALL_UPDATE_TILES), 0);
  // A keystroke's echo: one glyph, one tile.
  fb.applyRects([{ x: 70, y: 70, w: 8, h: 16 }], new Uint8Array(8 * 16 * 4).fill(200));
  assert.equal(encoder.changedTiles(fb, DEFAULT_SMALL_UPDATE_TILES), 1);
  // A window moving: the whole screen; counting stops past the limit.
  fb.applyRects([{ x: 0, y: 0, w: 640, h: 480 }], new Uint8Array(640 * 480 * 4).fill(90));
  assert.equal(encoder.changedTiles(fb, 4), 5);
  encoder.reset();
  assert.equal(encoder.changedTiles(fb, 4), all, 'a refresh sends everything');
});

test('an update due now is not held back by a flush armed for later, and runs once', (t) => {
  mock.timers.enable({ apis: ['setTimeout'], now: 0 });
  t.after(() => mock.timers.reset());
  let runs = 0;
  const timer = new FlushTimer(() => runs++);
  // Lossy tiles to refine in 300 ms; then the first update after a freeze arrives.
  timer.arm(300, 0);
  timer.arm(0, 10);
  mock.timers.tick(10);
  assert.equal(runs, 1, 'the update went at once');
  assert.equal(timer.armed, false);
  mock.timers.tick(1_000);
  assert.equal(runs, 1, 'the later flush was replaced, not added');
});

test('a flush already due sooner is kept when a later one is asked for', (t) => {
  mock.timers.enable({ apis: ['setTimeout'], now: 0 });
  t.after(() => mock.timers.reset());
  let runs = 0;
  const timer = new FlushTimer(() => runs++);
  timer.arm(33, 0);
  timer.arm(300, 5);
  mock.timers.tick(33);
  assert.equal(runs, 1);
  mock.timers.tick(1_000);
  assert.equal(runs, 1);
  timer.arm(50, 2_000);
  timer.cancel();
  mock.timers.tick(1_000);
  assert.equal(runs, 1, 'a cancelled flush never runs');
});
