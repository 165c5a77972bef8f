import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitGuestScreen, GUEST_SCREEN_LIMITS, guestScreenSizeSchema } from './index.ts';

test('a viewer area becomes a guest screen of its device pixels, width a multiple of 8', () => {
  assert.deepEqual(fitGuestScreen(1279, 721), { width: 1272, height: 721 });
  assert.deepEqual(fitGuestScreen(800, 600, 1.5), { width: 1200, height: 900 });
});

test('a large or high-density area is scaled down to the limits, keeping its shape', () => {
  // 2560x1600 device pixels (16:10) shrink by 1080/1600 to fit the height.
  assert.deepEqual(fitGuestScreen(1280, 800, 2), { width: 1728, height: 1080 });
  // 3840x2160 (16:9) shrinks to exactly the cap.
  assert.deepEqual(fitGuestScreen(1920, 1080, 2), { width: 1920, height: 1080 });
  // 3840x1080: width-bound, so the height shrinks by the same factor.
  assert.deepEqual(fitGuestScreen(3840, 1080), { width: 1920, height: 540 });
});

test('a tiny area or a nonsense ratio still gives a valid size', () => {
  for (const size of [
    fitGuestScreen(100, 50),
    fitGuestScreen(0, 0),
    fitGuestScreen(1024, 768, Number.NaN),
    fitGuestScreen(10_000, 10, 3),
  ]) {
    assert.equal(guestScreenSizeSchema.safeParse(size).success, true, JSON.stringify(size));
  }
  assert.deepEqual(fitGuestScreen(100, 50), {
    width: GUEST_SCREEN_LIMITS.minWidth,
    height: GUEST_SCREEN_LIMITS.minHeight,
  });
});

test('the size schema refuses what the guest agent would refuse', () => {
  for (const bad of [
    { width: 639, height: 480 },
    { width: 1921, height: 1080 },
    { width: 1024, height: 1081 },
    { width: 1024.5, height: 768 },
  ]) {
    assert.equal(guestScreenSizeSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});
