import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LONG_PRESS_MS, SCROLL_STEP_PX, TouchGestures } from './touch.ts';

function recorder() {
  const events: (string | { x: number; y: number; buttons: number })[] = [];
  const gestures = new TouchGestures({
    toGuest: (x, y) => ({ x: Math.round(x), y: Math.round(y) }),
    pointer: (p) => events.push(p),
    wheel: (dy) => events.push(`wheel ${dy}`),
  });
  return { events, gestures };
}

test('a tap is a left click where the finger was', () => {
  const { events, gestures } = recorder();
  gestures.down(1, 100, 50);
  gestures.move(1, 103, 52); // within the slop
  gestures.up(1);
  assert.deepEqual(events, [
    { x: 100, y: 50, buttons: 0 },
    { x: 100, y: 50, buttons: 1 },
    { x: 100, y: 50, buttons: 0 },
  ]);
});

test('a long press is a right click, and lifting the finger adds nothing', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { events, gestures } = recorder();
  gestures.down(1, 10, 20);
  t.mock.timers.tick(LONG_PRESS_MS);
  gestures.up(1);
  assert.deepEqual(events, [
    { x: 10, y: 20, buttons: 0 },
    { x: 10, y: 20, buttons: 2 },
    { x: 10, y: 20, buttons: 0 },
  ]);
});

test('one finger moved drags with the left button from where it started', () => {
  const { events, gestures } = recorder();
  gestures.down(1, 10, 10);
  gestures.move(1, 40, 10);
  gestures.move(1, 60, 30);
  gestures.up(1);
  assert.deepEqual(events, [
    { x: 10, y: 10, buttons: 0 },
    { x: 10, y: 10, buttons: 1 },
    { x: 40, y: 10, buttons: 1 },
    { x: 60, y: 30, buttons: 1 },
    { x: 60, y: 30, buttons: 0 },
  ]);
});

test('two fingers moved up scroll down, one notch per step, and never click', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { events, gestures } = recorder();
  gestures.down(1, 100, 300);
  gestures.down(2, 200, 300);
  gestures.move(1, 100, 300 - 2 * SCROLL_STEP_PX);
  gestures.move(2, 200, 300 - 2 * SCROLL_STEP_PX);
  gestures.move(1, 100, 300);
  gestures.move(2, 200, 300);
  t.mock.timers.tick(LONG_PRESS_MS * 2);
  gestures.up(1);
  gestures.up(2);
  assert.deepEqual(events, [
    { x: 100, y: 300, buttons: 0 },
    'wheel 1',
    'wheel 1',
    'wheel -1',
    'wheel -1',
  ]);
});
