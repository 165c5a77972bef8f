// The encoded whole screen of one VM, kept for viewers who arrive or reconnect: their first
// frame then comes from bytes already encoded instead of a full-screen encode.
//
// The screen is cut into blocks of BLOCK x BLOCK tiles, each encoded on its own (uniform tiles
// as fills, the rest PNG or JPEG as the per-viewer encoder would choose). A block remembers the
// versions of its tiles when it was encoded; a tile's version changes with every update that
// touches it, so a block whose versions all still match holds exactly the current pixels, and
// only the blocks that changed are encoded again. One cache per feed: it is shared by the
// viewers of one VM and never across VMs.
import { isImageRect, type WireRect } from '../protocol/browser.ts';
import { chooseCodec, encodeRegion, sampleRegion } from './codec.ts';
import { TILE, type Framebuffer } from './framebuffer.ts';
import { QUALITY_TIERS } from './quality.ts';
import { NONE, mergeTiles } from './rects.ts';

/** Block edge in tiles: 256x256 px, 12 blocks on a 1024x768 screen. */
export const BLOCK = 4;
/** Keyframe JPEG quality: the best tier's, as a new viewer starts in it. */
export const KEYFRAME_JPEG_QUALITY = QUALITY_TIERS[0]!.jpegQuality;
const CONTENT = -2;

interface CachedBlock {
  /** Tile versions of the block (row by row within it) when it was encoded. */
  versions: Uint32Array;
  rects: WireRect[];
  /** Per tile of the block: sent as JPEG (the viewer's encoder refines it later). */
  lossy: Uint8Array;
  tiles: { fill: number; png: number; jpeg: number };
}

export interface Keyframe {
  /** Rects covering the whole screen, top to bottom. */
  rects: WireRect[];
  bytes: number;
  /** Per screen tile: 1 if its pixels went as JPEG. */
  lossy: Uint8Array;
  tiles: { fill: number; png: number; jpeg: number };
  /** Blocks encoded for this keyframe and blocks reused as they were. */
  blocks: { encoded: number; reused: number };
}

export class KeyframeCache {
  /** Blocks encoded and reused since creation (for tests and metrics). */
  encodedBlocks = 0;
  reusedBlocks = 0;
  private epoch = -1;
  private blocksX = 0;
  private blocksY = 0;
  private blocks: (CachedBlock | null)[] = [];

  /** The whole screen as it is now, encoding only the blocks that changed since last time. */
  get(fb: Framebuffer): Keyframe {
    this.adopt(fb);
    const rects: WireRect[] = [];
    const lossy = new Uint8Array(fb.tilesX * fb.tilesY);
    const tiles = { fill: 0, png: 0, jpeg: 0 };
    const blocks = { encoded: 0, reused: 0 };
    let bytes = 0;
    for (let by = 0; by < this.blocksY; by++) {
      for (let bx = 0; bx < this.blocksX; bx++) {
        const { block, encoded } = this.block(fb, bx, by);
        blocks[encoded ? 'encoded' : 'reused']++;
        for (const rect of block.rects) {
          rects.push(rect);
          bytes += isImageRect(rect) ? rect.data.length + 40 : 24;
        }
        tiles.fill += block.tiles.fill;
        tiles.png += block.tiles.png;
        tiles.jpeg += block.tiles.jpeg;
        this.eachTile(fb, bx, by, (t, i) => (lossy[t] = block.lossy[i]!));
      }
    }
    // Painting order: top to bottom, then left to right (as the per-viewer encoder sends).
    rects.sort((a, b) => a.y - b.y || a.x - b.x);
    return { rects, bytes, lossy, tiles, blocks };
  }

  /** Encodes the blocks that changed, so the next `get` finds them ready. Returns how many. */
  refresh(fb: Framebuffer): number {
    const before = this.encodedBlocks;
    this.refreshFor(fb, Infinity);
    return this.encodedBlocks - before;
  }

  /**
   * Encodes changed blocks until `budgetMs` has been spent; true once none is left. A caller on
   * an event loop encodes the keyframe a slice at a time, so the sockets it serves are not kept
   * waiting behind a whole screen's encode (tens of ms, over 100 under load).
   */
  refreshFor(fb: Framebuffer, budgetMs: number): boolean {
    this.adopt(fb);
    const started = performance.now();
    for (let by = 0; by < this.blocksY; by++)
      for (let bx = 0; bx < this.blocksX; bx++) {
        if (!this.block(fb, bx, by).encoded) continue;
        if (performance.now() - started >= budgetMs) return !this.stale(fb);
      }
    return true;
  }

  /** True when some block is missing or older than the framebuffer. */
  stale(fb: Framebuffer): boolean {
    if (fb.width === 0) return false;
    if (fb.epoch !== this.epoch) return true;
    for (let by = 0; by < this.blocksY; by++)
      for (let bx = 0; bx < this.blocksX; bx++) {
        const cached = this.blocks[by * this.blocksX + bx];
        if (!cached || !this.current(fb, bx, by, cached)) return true;
      }
    return false;
  }

  private adopt(fb: Framebuffer): void {
    if (fb.epoch === this.epoch) return;
    this.epoch = fb.epoch;
    this.blocksX = Math.ceil(fb.tilesX / BLOCK);
    this.blocksY = Math.ceil(fb.tilesY / BLOCK);
    this.blocks = new Array<CachedBlock | null>(this.blocksX * this.blocksY).fill(null);
  }

  private eachTile(
    fb: Framebuffer,
    bx: number,
    by: number,
    visit: (tile: number, indexInBlock: number) => void,
  ): void {
    const tx1 = Math.min(fb.tilesX, (bx + 1) * BLOCK);
    const ty1 = Math.min(fb.tilesY, (by + 1) * BLOCK);
    let i = 0;
    for (let ty = by * BLOCK; ty < ty1; ty++)
      for (let tx = bx * BLOCK; tx < tx1; tx++) visit(ty * fb.tilesX + tx, i++);
  }

  private current(fb: Framebuffer, bx: number, by: number, cached: CachedBlock): boolean {
    let same = true;
    this.eachTile(fb, bx, by, (t, i) => {
      if (fb.version[t] !== cached.versions[i]) same = false;
    });
    return same;
  }

  private block(fb: Framebuffer, bx: number, by: number): { block: CachedBlock; encoded: boolean } {
    const index = by * this.blocksX + bx;
    const cached = this.blocks[index];
    if (cached && this.current(fb, bx, by, cached)) {
      this.reusedBlocks++;
      return { block: cached, encoded: false };
    }
    const block = this.encodeBlock(fb, bx, by);
    this.blocks[index] = block;
    this.encodedBlocks++;
    return { block, encoded: true };
  }

  private encodeBlock(fb: Framebuffer, bx: number, by: number): CachedBlock {
    const tx0 = bx * BLOCK;
    const ty0 = by * BLOCK;
    const w = Math.min(BLOCK, fb.tilesX - tx0);
    const h = Math.min(BLOCK, fb.tilesY - ty0);
    const versions = new Uint32Array(w * h);
    const lossy = new Uint8Array(w * h);
    const keys = new Float64Array(w * h).fill(NONE);
    const src = new Uint32Array(fb.data.buffer, fb.data.byteOffset, fb.width * fb.height);
    this.eachTile(fb, bx, by, (t, i) => {
      versions[i] = fb.version[t]!;
      keys[i] = uniformKey(fb, src, t);
    });
    const rects: WireRect[] = [];
    const tiles = { fill: 0, png: 0, jpeg: 0 };
    for (const r of mergeTiles(keys, w, h, BLOCK * BLOCK, BLOCK)) {
      const x = (tx0 + r.tx0) * TILE;
      const y = (ty0 + r.ty0) * TILE;
      const rw = Math.min((tx0 + r.tx1) * TILE, fb.width) - x;
      const rh = Math.min((ty0 + r.ty1) * TILE, fb.height) - y;
      const count = (r.tx1 - r.tx0) * (r.ty1 - r.ty0);
      if (r.key >= 0) {
        rects.push({ enc: 'fill', x, y, w: rw, h: rh, rgb: r.key });
        tiles.fill += count;
        continue;
      }
      // A keyframe is a still picture: the fast-change rule does not apply.
      const codec = chooseCodec({
        pixels: rw * rh,
        ...sampleRegion(fb, x, y, rw, rh, 512),
        changeRate: 0,
        textMode: fb.mode === 'text',
        lossless: false,
      });
      const data = encodeRegion(fb, x, y, rw, rh, codec, KEYFRAME_JPEG_QUALITY);
      rects.push({ enc: codec, x, y, w: rw, h: rh, data });
      tiles[codec] += count;
      if (codec === 'jpeg')
        for (let ty = r.ty0; ty < r.ty1; ty++)
          for (let tx = r.tx0; tx < r.tx1; tx++) lossy[ty * w + tx] = 1;
    }
    return { versions, rects, lossy, tiles };
  }
}

/** A tile's fill colour (0xRRGGBB) if every pixel of it is the same, else CONTENT. */
function uniformKey(fb: Framebuffer, src: Uint32Array, tile: number): number {
  const tx = tile % fb.tilesX;
  const ty = Math.floor(tile / fb.tilesX);
  const x0 = tx * TILE;
  const y0 = ty * TILE;
  const { w, h } = fb.tileSize(tx, ty);
  const first = src[y0 * fb.width + x0]!;
  for (let y = y0; y < y0 + h; y++) {
    const row = y * fb.width;
    for (let i = row + x0, end = row + x0 + w; i < end; i++) if (src[i] !== first) return CONTENT;
  }
  // Framebuffer bytes are R,G,B,A; on little-endian the Uint32 is 0xAABBGGRR.
  return ((first & 0xff) << 16) | (first & 0xff00) | ((first >>> 16) & 0xff);
}
