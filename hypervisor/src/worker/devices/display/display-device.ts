// The display of one domain, running in the VM worker next to its v86 instance.
//
// It hooks v86's screen adapter (the object v86 reports mode changes, text cells and pixel
// bands to) and keeps a composited RGBA copy of the screen. The caller drives the frame clock:
// captureFrame() pulls pixels from v86, diffs them per 64x64 tile against the last captured
// frame and returns only the changed tiles. Text mode is rendered with an 8x16 VGA font into
// cols*8 x rows*16 pixels and goes through the same tile diff.
import type { DisplayMode, TileRect } from '../../../api/protocol.ts';
import { loadVgaFont, type BitmapFont } from './font.ts';
import { CELL_HEIGHT, CELL_WIDTH, TextGrid } from './text-renderer.ts';

export const TILE_SIZE = 64;

// ---- The slice of v86 this device uses --------------------------------------------------------

export interface ImageDataLike {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** One band of v86's graphical buffer to copy to the screen (see VGAScreen.update_layers). */
export interface V86Layer {
  image_data: ImageDataLike;
  screen_x: number;
  screen_y: number;
  buffer_x: number;
  buffer_y: number;
  buffer_width: number;
  buffer_height: number;
}

/** The screen adapter methods v86's VGA calls (DummyScreenAdapter under Node). */
export interface V86ScreenAdapterLike {
  FLAG_BLINKING?: number;
  FLAG_FONT_PAGE_B?: number;
  set_mode?(graphical: boolean): void;
  set_size_text?(cols: number, rows: number): void;
  set_size_graphical?(
    width: number,
    height: number,
    virtualWidth: number,
    virtualHeight: number,
  ): void;
  put_char?(row: number, col: number, chr: number, flags: number, bg: number, fg: number): void;
  update_cursor?(row: number, col: number): void;
  update_cursor_scanline?(start: number, end: number, enabled: boolean): void;
  update_buffer?(layers: V86Layer[]): void;
  clear_screen?(): void;
  clear_text_state?(): void;
  set_font_bitmap?(
    height: number,
    width9px: boolean,
    widthDbl: boolean,
    copy8thCol: boolean,
    bitmap: Uint8Array,
    changed: boolean,
  ): void;
}

export interface V86VgaLike {
  screen_fill_buffer(): void;
  image_data: ImageDataLike | null;
  graphical_mode?: boolean;
  screen_width?: number;
  screen_height?: number;
  max_cols?: number;
  max_rows?: number;
  complete_redraw?(): void;
}

export interface V86DisplayLike {
  /** Created by v86 asynchronously (after the wasm loads); may be undefined at first. */
  screen_adapter?: V86ScreenAdapterLike;
  v86?: { cpu?: { devices?: { vga?: V86VgaLike } } };
}

// ---- Public types -------------------------------------------------------------------------------

export interface DisplayGeometry {
  width: number;
  height: number;
  mode: DisplayMode;
}

/** A DisplayFrame without domainId/seq (the worker adds those). */
export interface CapturedFrame {
  width: number;
  height: number;
  mode: DisplayMode;
  keyframe: boolean;
  rects: TileRect[];
  /** RGBA of each rect, one after another, each row-major with stride w*4. Fresh buffer. */
  pixels: Uint8Array;
}

export interface DisplaySnapshot {
  width: number;
  height: number;
  mode: DisplayMode;
  rgba: Uint8Array;
}

export interface DisplayDeviceOptions {
  onResize?: (geometry: DisplayGeometry) => void;
  /** Font for text mode; defaults to loadVgaFont(). */
  font?: BitmapFont;
}

/**
 * Defines `globalThis.ImageData` when absent so v86 allocates its graphical buffer under Node.
 * Call before constructing V86.
 */
export function installImageDataShim(): void {
  const g = globalThis as { ImageData?: unknown };
  if (typeof g.ImageData !== 'undefined') return;
  class ImageData {
    readonly data: Uint8ClampedArray;
    readonly width: number;
    readonly height: number;
    readonly colorSpace = 'srgb';
    constructor(dataOrWidth: Uint8ClampedArray | number, widthOrHeight: number, height?: number) {
      if (typeof dataOrWidth === 'number') {
        this.width = dataOrWidth;
        this.height = widthOrHeight;
        this.data = new Uint8ClampedArray(dataOrWidth * widthOrHeight * 4);
      } else {
        this.data = dataOrWidth;
        this.width = widthOrHeight;
        this.height = height ?? dataOrWidth.length / 4 / widthOrHeight;
      }
    }
  }
  g.ImageData = ImageData;
}

/** Alpha 255 in a little-endian RGBA word, as a signed int (fb and prev are Int32Arrays). */
const ALPHA = 0xff000000 | 0;

/** Sets every alpha byte of RGBA pixels to 255 (guests and v86 may leave it 0). */
function forceOpaque(rgba: Uint8Array): void {
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
}

export class DisplayDevice {
  private readonly emulator: V86DisplayLike;
  private readonly font: BitmapFont;
  private readonly listeners = new Set<(g: DisplayGeometry) => void>();
  private adapter: V86ScreenAdapterLike | undefined;
  private originals: Partial<V86ScreenAdapterLike> = {};
  private disposed = false;

  // What v86 reported.
  private graphical = false;
  private gfxWidth = 0;
  private gfxHeight = 0;
  private readonly text = new TextGrid();

  // The geometry of `fb`, and what onResize last announced.
  private width = 0;
  private height = 0;
  private mode: DisplayMode = 'text';
  private geometryCheckQueued = false;

  /** Composited current screen, RGBA words (Int32 so V8 keeps values as small integers). */
  private fb = new Int32Array(0);
  /** The screen as of the last captured frame. */
  private prev = new Int32Array(0);
  private fbBytes = Buffer.alloc(0);
  private prevBytes = Buffer.alloc(0);
  /** Rows of `fb` changed since the last capture: [dirtyMin, dirtyMax). */
  private dirtyMin = 0;
  private dirtyMax = 0;
  private keyframePending = true;
  // Reused per capture.
  private changedTiles = new Uint8Array(0);

  constructor(emulator: V86DisplayLike, options: DisplayDeviceOptions = {}) {
    this.emulator = emulator;
    this.font = options.font ?? loadVgaFont();
    if (options.onResize) this.listeners.add(options.onResize);
    this.text.resize(80, 25);
    this.applyGeometry(false);
    if (emulator.screen_adapter) {
      this.hook(emulator.screen_adapter);
      this.resyncFromVga();
    } else {
      // v86 creates its screen adapter after the wasm loads: catch the assignment.
      let value: V86ScreenAdapterLike | undefined;
      Object.defineProperty(emulator, 'screen_adapter', {
        configurable: true,
        enumerable: true,
        get: () => value,
        set: (adapter: V86ScreenAdapterLike) => {
          value = adapter;
          Object.defineProperty(emulator, 'screen_adapter', {
            configurable: true,
            enumerable: true,
            writable: true,
            value: adapter,
          });
          if (!this.disposed) this.hook(adapter);
        },
      });
    }
  }

  /** Subscribe to resolution/mode changes. Returns an unsubscribe function. */
  onResize(listener: (geometry: DisplayGeometry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Current screen size and mode (what the last onResize announced, or newer). */
  size(): DisplayGeometry {
    this.applyGeometry(true);
    return { width: this.width, height: this.height, mode: this.mode };
  }

  /** The text screen as lines (CP437 decoded); meaningful in text mode. */
  textLines(): string[] {
    return this.text.lines();
  }

  /** Make the next captured frame a keyframe. */
  requestKeyframe(): void {
    this.keyframePending = true;
  }

  /**
   * Pulls the screen from v86 and returns the tiles that changed since the last capture, or
   * null when nothing changed. A keyframe (asked for, or after a resize) holds every tile.
   */
  captureFrame(opts: { keyframe?: boolean } = {}): CapturedFrame | null {
    this.pull();
    const keyframe = !!opts.keyframe || this.keyframePending;
    const { width, height } = this;
    if (width === 0 || height === 0) return null;
    if (!keyframe && this.dirtyMin >= this.dirtyMax) return null;

    const fb = this.fb;
    const prev = this.prev;
    const tilesX = Math.ceil(width / TILE_SIZE);
    const tilesY = Math.ceil(height / TILE_SIZE);
    if (this.changedTiles.length < tilesX * tilesY)
      this.changedTiles = new Uint8Array(tilesX * tilesY);
    const changed = this.changedTiles;
    changed.fill(0);
    const ty0 = keyframe ? 0 : Math.floor(this.dirtyMin / TILE_SIZE);
    const ty1 = keyframe ? tilesY : Math.min(tilesY, Math.ceil(this.dirtyMax / TILE_SIZE));
    const bandMin = keyframe ? 0 : this.dirtyMin;
    const bandMax = keyframe ? height : Math.min(height, this.dirtyMax);
    this.dirtyMin = height;
    this.dirtyMax = 0;
    this.keyframePending = false;
    if (!keyframe) {
      // Cheap native test first: v86 often reports bands whose pixels did not change.
      const off = bandMin * width * 4;
      const len = (bandMax - bandMin) * width * 4;
      if (len <= 0) return null;
      if (this.fbBytes.compare(this.prevBytes, off, off + len, off, off + len) === 0) return null;
    }

    let count = 0;
    let bytes = 0;
    // Byte views of fb/prev for native (memcmp) comparisons; no allocation per frame.
    const fbBytes = this.fbBytes;
    const prevBytes = this.prevBytes;
    const rowBytes = width * 4;
    for (let ty = ty0; ty < ty1; ty++) {
      const y0 = Math.max(ty * TILE_SIZE, bandMin);
      const y1 = Math.min((ty + 1) * TILE_SIZE, bandMax);
      const th = Math.min(TILE_SIZE, height - ty * TILE_SIZE);
      const rowTiles = ty * tilesX;
      let marked = 0;
      if (keyframe) {
        for (let tx = 0; tx < tilesX; tx++) changed[rowTiles + tx] = 1;
        marked = tilesX;
      } else {
        for (let y = y0; y < y1 && marked < tilesX; y++) {
          const rowStart = y * rowBytes;
          // Whole row equal (the common case): skip it.
          if (
            fbBytes.compare(
              prevBytes,
              rowStart,
              rowStart + rowBytes,
              rowStart,
              rowStart + rowBytes,
            ) === 0
          )
            continue;
          for (let tx = 0; tx < tilesX; tx++) {
            if (changed[rowTiles + tx]) continue;
            const a = rowStart + tx * TILE_SIZE * 4;
            const b = Math.min(a + TILE_SIZE * 4, rowStart + rowBytes);
            if (fbBytes.compare(prevBytes, a, b, a, b) !== 0) {
              changed[rowTiles + tx] = 1;
              marked++;
            }
          }
        }
      }
      if (marked === 0) continue;
      count += marked;
      for (let tx = 0; tx < tilesX; tx++) {
        if (changed[rowTiles + tx]) bytes += Math.min(TILE_SIZE, width - tx * TILE_SIZE) * th * 4;
      }
    }
    if (count === 0) return null;

    const pixels = new Uint8Array(bytes);
    const out = new Int32Array(pixels.buffer);
    const rects: TileRect[] = new Array<TileRect>(count);
    let o = 0;
    let n = 0;
    for (let ty = ty0; ty < ty1; ty++) {
      const yStart = ty * TILE_SIZE;
      const th = Math.min(TILE_SIZE, height - yStart);
      for (let tx = 0; tx < tilesX; tx++) {
        if (!changed[ty * tilesX + tx]) continue;
        const x0 = tx * TILE_SIZE;
        const tw = Math.min(TILE_SIZE, width - x0);
        rects[n++] = { x: x0, y: yStart, w: tw, h: th };
        for (let y = yStart; y < yStart + th; y++) {
          const s = y * width + x0;
          const row = fb.subarray(s, s + tw);
          prev.set(row, s);
          out.set(row, o);
          o += tw;
        }
      }
    }
    forceOpaque(pixels);
    return { width, height, mode: this.mode, keyframe, rects, pixels };
  }

  /** The whole current screen as RGBA (alpha 255), pulled from v86 now. */
  snapshot(): DisplaySnapshot {
    this.pull();
    const rgba = new Uint8Array(
      this.fb.buffer.slice(this.fb.byteOffset, this.fb.byteOffset + this.fb.byteLength),
    );
    forceOpaque(rgba);
    return { width: this.width, height: this.height, mode: this.mode, rgba };
  }

  /** Restores v86's adapter methods. */
  dispose(): void {
    this.disposed = true;
    const adapter = this.adapter;
    if (!adapter) return;
    for (const [key, fn] of Object.entries(this.originals)) {
      (adapter as Record<string, unknown>)[key] = fn;
    }
    this.originals = {};
    this.adapter = undefined;
  }

  // ---- internals --------------------------------------------------------------------------------

  private vga(): V86VgaLike | undefined {
    return this.emulator.v86?.cpu?.devices?.vga;
  }

  /** Brings `fb` up to date: v86's pixel bands in graphical mode, dirty text rows in text mode. */
  private pull(): void {
    this.applyGeometry(true);
    if (this.graphical) {
      const vga = this.vga();
      if (vga?.image_data) vga.screen_fill_buffer(); // calls our update_buffer hook
    } else {
      const band = this.text.renderDirty(this.fb, this.font);
      if (band) this.markDirty(band[0], band[1]);
    }
  }

  private markDirty(y0: number, y1: number): void {
    if (y0 < this.dirtyMin) this.dirtyMin = y0;
    if (y1 > this.dirtyMax) this.dirtyMax = y1;
  }

  private wanted(): DisplayGeometry {
    return this.graphical
      ? { mode: 'graphical', width: this.gfxWidth, height: this.gfxHeight }
      : { mode: 'text', width: this.text.cols * CELL_WIDTH, height: this.text.rows * CELL_HEIGHT };
  }

  /**
   * Reallocates buffers when mode or size changed and tells listeners. v86 reports a mode
   * switch in several calls (set_mode, then sizes), so hooks only queue this check.
   */
  private applyGeometry(notify: boolean): void {
    this.geometryCheckQueued = false;
    const g = this.wanted();
    if (g.width === this.width && g.height === this.height && g.mode === this.mode) return;
    const sizeChanged = g.width !== this.width || g.height !== this.height;
    this.width = g.width;
    this.height = g.height;
    this.mode = g.mode;
    if (sizeChanged) {
      this.fb = new Int32Array(g.width * g.height);
      this.prev = new Int32Array(g.width * g.height);
      this.fbBytes = Buffer.from(this.fb.buffer, this.fb.byteOffset, this.fb.byteLength);
      this.prevBytes = Buffer.from(this.prev.buffer, this.prev.byteOffset, this.prev.byteLength);
    }
    if (g.mode === 'text') {
      this.text.markAll();
    } else {
      this.fb.fill(ALPHA);
      this.vga()?.complete_redraw?.();
    }
    this.dirtyMin = 0;
    this.dirtyMax = g.height;
    this.keyframePending = true;
    if (notify) for (const l of this.listeners) l({ ...g });
  }

  private queueGeometryCheck(): void {
    if (this.geometryCheckQueued) return;
    this.geometryCheckQueued = true;
    queueMicrotask(() => {
      if (this.geometryCheckQueued && !this.disposed) this.applyGeometry(true);
    });
  }

  private hook(adapter: V86ScreenAdapterLike): void {
    this.adapter = adapter;
    // v86's VGA reads these from the adapter; the DOM-less adapter lacks them.
    adapter.FLAG_BLINKING ??= 1;
    adapter.FLAG_FONT_PAGE_B ??= 2;
    const wrap = <K extends keyof V86ScreenAdapterLike>(
      key: K,
      fn: NonNullable<V86ScreenAdapterLike[K]>,
    ) => {
      const original = adapter[key];
      this.originals[key] = original;
      // The original still runs (after ours) so v86's own text readers keep working.
      (adapter as Record<string, unknown>)[key] = (...args: unknown[]) => {
        (fn as (...a: unknown[]) => void)(...args);
        if (typeof original === 'function')
          return (original as (...a: unknown[]) => unknown).apply(adapter, args);
        return undefined;
      };
    };
    wrap('set_mode', (graphical: boolean) => {
      this.graphical = !!graphical;
      this.queueGeometryCheck();
    });
    wrap('set_size_text', (cols: number, rows: number) => {
      if (cols !== this.text.cols || rows !== this.text.rows) {
        this.text.resize(cols, rows);
        this.queueGeometryCheck();
      }
    });
    wrap('clear_text_state', () => {
      this.text.markAll();
    });
    wrap('set_size_graphical', (width: number, height: number) => {
      this.gfxWidth = width;
      this.gfxHeight = height;
      this.queueGeometryCheck();
    });
    wrap(
      'put_char',
      (row: number, col: number, chr: number, _flags: number, bg: number, fg: number) => {
        this.text.put(row, col, chr, bg, fg);
      },
    );
    wrap('update_cursor', (row: number, col: number) => this.text.setCursor(row, col));
    wrap('update_cursor_scanline', (start: number, end: number, enabled: boolean) =>
      this.text.setCursorShape(start, end, enabled),
    );
    wrap('set_font_bitmap', (height: number) => {
      if (height > 0 && height !== this.text.fontHeight) {
        this.text.fontHeight = height;
        this.text.markAll();
      }
    });
    wrap('clear_screen', () => {
      if (!this.graphical) return;
      this.applyGeometry(true);
      this.fb.fill(ALPHA);
      this.markDirty(0, this.height);
    });
    wrap('update_buffer', (layers: V86Layer[]) => this.copyLayers(layers));
  }

  /** Copies v86's graphical layers (bands of its buffer) into `fb`. */
  private copyLayers(layers: V86Layer[]): void {
    if (!this.graphical) return;
    this.applyGeometry(true);
    const W = this.width;
    const H = this.height;
    const fb = this.fb;
    for (const layer of layers) {
      const img = layer.image_data;
      const data = img.data;
      const src = new Int32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
      const stride = img.width;
      // Pixel (buffer_x + i, buffer_y + j) goes to (screen_x + i, screen_y + j).
      let i0 = 0;
      let i1 = layer.buffer_width;
      if (layer.screen_x + i0 < 0) i0 = -layer.screen_x;
      if (layer.screen_x + i1 > W) i1 = W - layer.screen_x;
      if (layer.buffer_x + i1 > stride) i1 = stride - layer.buffer_x;
      if (i1 <= i0) continue;
      let j0 = 0;
      let j1 = layer.buffer_height;
      if (layer.screen_y + j0 < 0) j0 = -layer.screen_y;
      if (layer.screen_y + j1 > H) j1 = H - layer.screen_y;
      if (layer.buffer_y + j1 > img.height) j1 = img.height - layer.buffer_y;
      if (j1 <= j0) continue;
      for (let j = j0; j < j1; j++) {
        const s = (layer.buffer_y + j) * stride + layer.buffer_x;
        fb.set(src.subarray(s + i0, s + i1), (layer.screen_y + j) * W + layer.screen_x + i0);
      }
      this.markDirty(layer.screen_y + j0, layer.screen_y + j1);
    }
  }

  /** When attached after v86 initialised its VGA: read its state and ask for a redraw. */
  private resyncFromVga(): void {
    const vga = this.vga();
    if (!vga) return;
    this.graphical = !!vga.graphical_mode;
    if (this.graphical) {
      this.gfxWidth = vga.screen_width ?? 0;
      this.gfxHeight = vga.screen_height ?? 0;
    } else if (vga.max_cols && vga.max_rows) {
      this.text.resize(vga.max_cols, vga.max_rows);
    }
    this.applyGeometry(false);
    vga.complete_redraw?.();
  }
}
