import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DisplayDevice,
  installImageDataShim,
  type DisplayGeometry,
  type ImageDataLike,
  type V86DisplayLike,
  type V86Layer,
  type V86ScreenAdapterLike,
} from './display-device.ts';
import type { BitmapFont } from './font.ts';

// A font where glyph 'A' (0x41) is a solid block on rows 0-7 and empty below; others blank.
function testFont(): BitmapFont {
  const glyphs = new Uint8Array(256 * 16);
  for (let y = 0; y < 8; y++) glyphs[0x41 * 16 + y] = 0xff;
  glyphs[0x42 * 16] = 0x80; // 'B': one pixel top-left
  return { width: 8, height: 16, glyphs, source: 'test' };
}

/** A stand-in for v86: a DummyScreenAdapter-like object and a VGA with a pixel buffer. */
class FakeV86 implements V86DisplayLike {
  screen_adapter?: V86ScreenAdapterLike;
  v86?: { cpu: { devices: { vga: FakeVga } } };
  readonly calls: string[] = [];

  createAdapter(): void {
    const calls = this.calls;
    // Like v86's DummyScreenAdapter: plain no-op methods on the instance.
    this.screen_adapter = {
      set_mode: () => calls.push('orig:set_mode'),
      set_size_text: () => calls.push('orig:set_size_text'),
      set_size_graphical: () => calls.push('orig:set_size_graphical'),
      put_char: () => calls.push('orig:put_char'),
      update_cursor: () => {},
      update_cursor_scanline: () => {},
      update_buffer: () => {},
      clear_screen: () => {},
      clear_text_state: () => {},
      set_font_bitmap: () => {},
    };
  }

  createVga(): FakeVga {
    const vga = new FakeVga(this);
    this.v86 = { cpu: { devices: { vga } } };
    return vga;
  }
}

class FakeVga {
  image_data: { data: Uint8ClampedArray; width: number; height: number } | null = null;
  graphical_mode = false;
  screen_width = 0;
  screen_height = 0;
  private dirtyMin = Infinity;
  private dirtyMax = 0;
  fills = 0;
  constructor(private readonly emu: FakeV86) {}

  setGraphical(width: number, height: number): void {
    this.graphical_mode = true;
    this.screen_width = width;
    this.screen_height = height;
    this.image_data = new ImageDataCtor(new Uint8ClampedArray(width * height * 4), width, height);
    this.emu.screen_adapter!.set_mode!(true);
    this.emu.screen_adapter!.set_size_graphical!(width, height, width, height);
    this.markAll();
  }

  /** Writes a pixel (as v86 does: RGBA, alpha 255) and records the dirty band. */
  setPixel(x: number, y: number, r: number, g: number, b: number, a = 255): void {
    const d = this.image_data!.data;
    const i = (y * this.image_data!.width + x) * 4;
    d[i] = r;
    d[i + 1] = g;
    d[i + 2] = b;
    d[i + 3] = a;
    this.dirtyMin = Math.min(this.dirtyMin, y);
    this.dirtyMax = Math.max(this.dirtyMax, y + 1);
  }

  markAll(): void {
    this.dirtyMin = 0;
    this.dirtyMax = this.screen_height;
  }

  complete_redraw(): void {
    this.markAll();
  }

  screen_fill_buffer(): void {
    this.fills++;
    if (this.dirtyMin < this.dirtyMax) {
      const layer: V86Layer = {
        image_data: this.image_data!,
        screen_x: 0,
        screen_y: this.dirtyMin,
        buffer_x: 0,
        buffer_y: this.dirtyMin,
        buffer_width: this.screen_width,
        buffer_height: this.dirtyMax - this.dirtyMin,
      };
      this.emu.screen_adapter!.update_buffer!([layer]);
    }
    this.dirtyMin = Infinity;
    this.dirtyMax = 0;
  }
}

installImageDataShim();
// ES lib only (no DOM types): reach the shim through globalThis.
const ImageDataCtor = (
  globalThis as unknown as {
    ImageData: new (data: Uint8ClampedArray, width: number, height: number) => ImageDataLike;
  }
).ImageData;

function setup() {
  const emu = new FakeV86();
  const resizes: DisplayGeometry[] = [];
  const display = new DisplayDevice(emu, { font: testFont(), onResize: (g) => resizes.push(g) });
  emu.createAdapter();
  const vga = emu.createVga();
  return { emu, vga, display, resizes };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function pixelAt(
  frame: { rects: { x: number; y: number; w: number; h: number }[]; pixels: Uint8Array },
  x: number,
  y: number,
): number[] | undefined {
  let off = 0;
  for (const r of frame.rects) {
    if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) {
      const i = off + ((y - r.y) * r.w + (x - r.x)) * 4;
      return [...frame.pixels.subarray(i, i + 4)];
    }
    off += r.w * r.h * 4;
  }
  return undefined;
}

test('installImageDataShim defines a usable ImageData', () => {
  const img = new ImageDataCtor(new Uint8ClampedArray(16), 2, 2);
  assert.equal(img.width, 2);
  assert.equal(img.height, 2);
  assert.equal(img.data.length, 16);
});

test('hooks the screen adapter when v86 assigns it later, keeping the originals running', () => {
  const { emu, display } = setup();
  emu.screen_adapter!.put_char!(0, 0, 0x41, 0, 0x000000, 0xffffff);
  assert.ok(emu.calls.includes('orig:put_char'));
  assert.equal(emu.screen_adapter!.FLAG_BLINKING, 1);
  assert.equal(emu.screen_adapter!.FLAG_FONT_PAGE_B, 2);
  assert.equal(display.textLines()[0]!.slice(0, 2), 'A ');
});

test('text mode: first frame is a keyframe, then only changed tiles', () => {
  const { emu, display } = setup();
  assert.deepEqual(display.size(), { width: 640, height: 400, mode: 'text' });
  const first = display.captureFrame();
  assert.ok(first);
  assert.equal(first.keyframe, true);
  assert.equal(first.rects.length, 10 * 7);
  assert.equal(first.pixels.length, 640 * 400 * 4);
  assert.equal(display.captureFrame(), null);

  // 'A' at row 5, col 20 -> pixels x 160..167, y 80..95 -> tile (128, 64).
  emu.screen_adapter!.put_char!(5, 20, 0x41, 0, 0x0000aa, 0xffff55);
  const f = display.captureFrame();
  assert.ok(f);
  assert.equal(f.keyframe, false);
  assert.deepEqual(f.rects, [{ x: 128, y: 64, w: 64, h: 64 }]);
  assert.equal(f.pixels.length, 64 * 64 * 4);
  assert.deepEqual(pixelAt(f, 160, 80), [0xff, 0xff, 0x55, 255]); // glyph row 0: fg
  assert.deepEqual(pixelAt(f, 167, 87), [0xff, 0xff, 0x55, 255]);
  assert.deepEqual(pixelAt(f, 160, 88), [0x00, 0x00, 0xaa, 255]); // glyph row 8: bg
  assert.equal(display.captureFrame(), null);

  // Same character again: nothing changes.
  emu.screen_adapter!.put_char!(5, 20, 0x41, 0, 0x0000aa, 0xffff55);
  assert.equal(display.captureFrame(), null);
});

test('text mode draws the cursor with the cell foreground', () => {
  const { emu, display } = setup();
  display.captureFrame();
  emu.screen_adapter!.put_char!(0, 3, 0x20, 0, 0x000000, 0xaaaaaa);
  emu.screen_adapter!.update_cursor_scanline!(14, 15, true);
  emu.screen_adapter!.update_cursor!(0, 3);
  const f = display.captureFrame();
  assert.ok(f);
  assert.deepEqual(pixelAt(f, 24, 14), [0xaa, 0xaa, 0xaa, 255]);
  assert.deepEqual(pixelAt(f, 31, 15), [0xaa, 0xaa, 0xaa, 255]);
  assert.deepEqual(pixelAt(f, 24, 13), [0, 0, 0, 255]);
  emu.screen_adapter!.update_cursor_scanline!(14, 15, false);
  const g = display.captureFrame();
  assert.ok(g);
  assert.deepEqual(pixelAt(g, 24, 14), [0, 0, 0, 255]);
});

test('text size change resizes and keyframes', async () => {
  const { emu, display, resizes } = setup();
  display.captureFrame();
  emu.screen_adapter!.set_size_text!(80, 50);
  await tick();
  assert.deepEqual(resizes, [{ width: 640, height: 800, mode: 'text' }]);
  const f = display.captureFrame();
  assert.ok(f?.keyframe);
  assert.equal(f.height, 800);
});

test('graphical mode: resize event, keyframe, then per-tile diff', async () => {
  const { vga, display, resizes } = setup();
  display.captureFrame();
  vga.setGraphical(1024, 768);
  await tick();
  assert.deepEqual(resizes, [{ width: 1024, height: 768, mode: 'graphical' }]);

  vga.setPixel(0, 0, 1, 2, 3);
  const key = display.captureFrame();
  assert.ok(key);
  assert.equal(key.keyframe, true);
  assert.equal(key.mode, 'graphical');
  assert.equal(key.rects.length, 16 * 12);
  assert.equal(key.pixels.length, 1024 * 768 * 4);
  assert.deepEqual(pixelAt(key, 0, 0), [1, 2, 3, 255]);
  assert.equal(display.captureFrame(), null);

  vga.setPixel(700, 300, 10, 20, 30);
  vga.setPixel(701, 300, 40, 50, 60, 0); // alpha from the guest is forced to 255
  const f = display.captureFrame();
  assert.ok(f);
  assert.equal(f.keyframe, false);
  assert.deepEqual(f.rects, [{ x: 640, y: 256, w: 64, h: 64 }]);
  assert.deepEqual(pixelAt(f, 700, 300), [10, 20, 30, 255]);
  assert.deepEqual(pixelAt(f, 701, 300), [40, 50, 60, 255]);
  // Row-major packing with stride w*4.
  assert.deepEqual(
    [
      ...f.pixels.subarray(
        ((300 - 256) * 64 + (700 - 640)) * 4,
        ((300 - 256) * 64 + (700 - 640)) * 4 + 3,
      ),
    ],
    [10, 20, 30],
  );

  // A band reported dirty without pixel changes yields nothing.
  vga.markAll();
  assert.equal(display.captureFrame(), null);
  // Explicit keyframe.
  const k2 = display.captureFrame({ keyframe: true });
  assert.equal(k2?.rects.length, 192);
  display.requestKeyframe();
  assert.equal(display.captureFrame()?.keyframe, true);
});

test('edge tiles are clipped and packed back to back', async () => {
  const { vga, display } = setup();
  vga.setGraphical(800, 600);
  await tick();
  const key = display.captureFrame();
  assert.ok(key);
  assert.equal(key.rects.length, 13 * 10);
  const last = key.rects.at(-1)!;
  assert.deepEqual(last, { x: 768, y: 576, w: 32, h: 24 });
  assert.equal(
    key.pixels.length,
    key.rects.reduce((n, r) => n + r.w * r.h * 4, 0),
  );
  vga.setPixel(799, 599, 9, 9, 9);
  const f = display.captureFrame();
  assert.deepEqual(f?.rects, [{ x: 768, y: 576, w: 32, h: 24 }]);
  assert.deepEqual(f && [...f.pixels.subarray(-4)], [9, 9, 9, 255]);
});

test('snapshot returns the whole screen and does not swallow changes', async () => {
  const { vga, display } = setup();
  vga.setGraphical(320, 200);
  await tick();
  display.captureFrame();
  vga.setPixel(5, 6, 7, 8, 9);
  const snap = display.snapshot();
  assert.equal(snap.width, 320);
  assert.equal(snap.height, 200);
  assert.equal(snap.mode, 'graphical');
  assert.equal(snap.rgba.length, 320 * 200 * 4);
  const i = (6 * 320 + 5) * 4;
  assert.deepEqual([...snap.rgba.subarray(i, i + 4)], [7, 8, 9, 255]);
  const f = display.captureFrame();
  assert.deepEqual(f?.rects, [{ x: 0, y: 0, w: 64, h: 64 }]);
});

test('back to text mode resizes and re-renders the grid', async () => {
  const { emu, vga, display, resizes } = setup();
  emu.screen_adapter!.put_char!(0, 0, 0x42, 0, 0, 0xffffff);
  vga.setGraphical(640, 480);
  await tick();
  display.captureFrame();
  emu.screen_adapter!.set_mode!(false);
  await tick();
  assert.deepEqual(resizes.at(-1), { width: 640, height: 400, mode: 'text' });
  const f = display.captureFrame();
  assert.ok(f?.keyframe);
  assert.equal(f.mode, 'text');
  assert.deepEqual(pixelAt(f, 0, 0), [255, 255, 255, 255]);
  assert.deepEqual(pixelAt(f, 1, 0), [0, 0, 0, 255]);
});

test('no resize event for a mode switch that lands on the same geometry in one step', async () => {
  const { emu, display, resizes } = setup();
  display.captureFrame();
  emu.screen_adapter!.set_mode!(true);
  emu.screen_adapter!.set_mode!(false);
  await tick();
  assert.deepEqual(resizes, []);
});

test('dispose restores the adapter', () => {
  const { emu, display } = setup();
  const hooked = emu.screen_adapter!.put_char;
  display.dispose();
  assert.notEqual(emu.screen_adapter!.put_char, hooked);
  emu.calls.length = 0;
  emu.screen_adapter!.put_char!(0, 0, 0x41, 0, 0, 0);
  assert.deepEqual(emu.calls, ['orig:put_char']);
});

test('captureFrame before v86 is ready returns the blank text screen, then null', () => {
  const emu = new FakeV86();
  const display = new DisplayDevice(emu, { font: testFont() });
  const f = display.captureFrame();
  assert.equal(f?.keyframe, true);
  assert.equal(display.captureFrame(), null);
});
