import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GuestScreenSize } from '@raydesk/common';
import { ScreenSizer } from './screen-size.ts';

/** A guest whose mode changes take `ms` and can be made to refuse. */
function guest(ms: number, refuse?: (size: GuestScreenSize) => Error | null) {
  const applied: string[] = [];
  let screen: GuestScreenSize = { width: 1024, height: 768 };
  const sizer = new ScreenSizer({
    apply: async (size) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      const error = refuse?.(size);
      if (error) throw error;
      applied.push(`${size.width}x${size.height}`);
      screen = size;
      return size;
    },
    shown: () => screen,
    isFixed: (error) => error instanceof Error && error.message === 'fixed',
  });
  return { sizer, applied };
}

test('while one size is being set, only the latest of the sizes asked meanwhile follows', async () => {
  const { sizer, applied } = guest(30);
  const all = [800, 900, 1000, 1100, 1200].map((width) => sizer.request({ width, height: 700 }));
  await Promise.all(all);
  assert.deepEqual(applied, ['800x700', '1200x700']);
});

test('a size the screen already has is not set again', async () => {
  const { sizer, applied } = guest(1);
  await sizer.request({ width: 1024, height: 768 });
  await sizer.request({ width: 1280, height: 800 });
  await sizer.request({ width: 1280, height: 800 });
  assert.deepEqual(applied, ['1280x800']);
});

test('a failed size is tried again when asked again; a fixed screen stops the asking', async () => {
  let fail = true;
  const { sizer, applied } = guest(1, (size) =>
    size.width === 640 ? new Error('fixed') : fail ? new Error('busy') : null,
  );
  await sizer.request({ width: 1280, height: 800 });
  assert.deepEqual(applied, []);
  fail = false;
  await sizer.request({ width: 1280, height: 800 });
  assert.deepEqual(applied, ['1280x800']);
  await sizer.request({ width: 640, height: 480 });
  assert.equal(sizer.fixed, true);
  await sizer.request({ width: 800, height: 600 });
  assert.deepEqual(applied, ['1280x800']);
});
