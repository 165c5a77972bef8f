// Per-client encoder: keeps a mirror of what this client was last SENT, diffs the shared
// framebuffer against it per 64x64 tile, merges dirty tiles into rectangles (uniform tiles as
// fills), picks PNG or JPEG per rectangle and produces the wire rects. With a watermark
// (watermark.ts) the stamp is blended into each image rect before encoding; the mirror keeps the
// VM's own pixels, so diffing is the same with or without one.
import { LIMITS, isImageRect, type WireRect } from '../protocol/browser.ts';
import { Framebuffer, TILE } from './framebuffer.ts';
import { NONE, mergeTiles } from './rects.ts';
import { chooseCodec, encodeRegion, sampleRegion } from './codec.ts';
import { RegionCache } from './region-cache.ts';
import { MotionSearch, type MotionVector } from './motion.ts';
import type { Watermark } from './watermark.ts';
import type { KeyframeCache } from './keyframe.ts';

/** Cell keys besides fill colours (0..0xFFFFFF). */
const CONTENT = -2;
const REFINE = -3;
/** Copies by the vector at index i have key COPY - i. */
const COPY = -10;

/** What findMoves found: the vectors copies use, and whether a copied tile is lossy. */
interface Moves {
  vectors: MotionVector[];
  lossy: boolean;
}
const NO_MOVES: Moves = { vectors: [], lossy: false };

export interface EncodeOptions {
  jpegQuality: number;
  now?: number;
  /** Re-send tiles that were sent as JPEG once they stayed unchanged this long (ms). */
  refineAfterMs?: number;
  /** At most this many tiles are refined per frame, to spread the cost. */
  maxRefineTiles?: number;
  /** The VM's encodings shared by its viewers (see RegionCache); private if absent. */
  regions?: RegionCache;
  /** At most this many tiles are re-sent per frame because their watermark changed. */
  maxRestampTiles?: number;
  /** The VM's encoded whole screen (keyframe.ts): full frames come from it when given. */
  keyframe?: KeyframeCache;
  /**
   * Send moved pixels the viewer already has as copies (motion.ts). Never with a watermark: a
   * copy would move the stamp along with the pixels.
   */
  copies?: boolean;
}

export interface EncodedFrame {
  rects: WireRect[];
  /** Whole-screen frame (after reset). */
  full: boolean;
  bytes: number;
  encodeMs: number;
  tiles: {
    dirty: number;
    fill: number;
    png: number;
    jpeg: number;
    /** Sent as copies of pixels the viewer had. */
    copy: number;
    refined: number;
    /** Unchanged tiles sent again because their watermark changed. */
    restamped: number;
  };
  /** Image rects encoded for this frame, and image rects reused from another viewer. */
  regions: { encoded: number; reused: number };
  /** Full frames from the keyframe cache: its blocks encoded now and reused. */
  keyframeBlocks?: { encoded: number; reused: number };
}

export class ClientEncoder {
  private epoch = -1;
  private width = 0;
  private height = 0;
  private tilesX = 0;
  private tilesY = 0;
  private mirror = new Uint32Array(0);
  private sent = new Uint32Array(0);
  private lossy = new Uint8Array(0);
  private forceFull = true;
  private lastGeneration = -1;
  private readonly ownRegions = new RegionCache();
  private readonly motion = new MotionSearch();
  /** The watermark this client's picture carries (null: none). */
  private watermark: Watermark | null = null;
  /** Tiles sent with another watermark than the current one, still to send again. */
  private stale = new Uint8Array(0);
  private staleCount = 0;

  /** Next frame covers the whole screen (new client, reconnect, refresh). */
  reset(): void {
    this.forceFull = true;
  }

  /** True when the framebuffer may hold something this client has not been sent. */
  mayHaveChanges(fb: Framebuffer): boolean {
    return (
      this.forceFull ||
      fb.epoch !== this.epoch ||
      fb.generation !== this.lastGeneration ||
      this.hasLossy ||
      this.staleCount > 0
    );
  }
  private hasLossy = false;

  /**
   * Tiles of `fb` changed since this client was sent them, counted up to `limit + 1` (enough to
   * tell a small update from a big one); a full frame counts as every tile.
   */
  changedTiles(fb: Framebuffer, limit: number): number {
    const all = fb.tilesX * fb.tilesY;
    if (this.forceFull || fb.epoch !== this.epoch || this.sent.length !== all) return all;
    let changed = 0;
    for (let t = 0; t < all && changed <= limit; t++) {
      if (fb.version[t] !== this.sent[t]) changed++;
    }
    return changed;
  }

  /**
   * Stamps this client's picture with `watermark` from the next frame on (null: none). Tiles the
   * client already has are sent again only where the stamp differs, a bounded number per frame.
   */
  setWatermark(watermark: Watermark | null): void {
    if (watermark === this.watermark) return;
    const previous = this.watermark;
    this.watermark = watermark;
    if (this.forceFull || this.sent.length === 0) return;
    const changed = watermark
      ? watermark.changedTiles(previous, this.width, this.height)
      : previous!.inkedTiles(this.width, this.height);
    for (let t = 0; t < changed.length; t++) {
      if (changed[t] && !this.stale[t]) {
        this.stale[t] = 1;
        this.staleCount++;
      }
    }
  }

  /** Tiles still to be sent again with the current watermark. */
  get pendingRestamp(): number {
    return this.staleCount;
  }

  /** Some tiles were sent as JPEG and will be re-sent losslessly once they settle. */
  get pendingRefinement(): boolean {
    return this.hasLossy;
  }

  private adopt(fb: Framebuffer): void {
    this.epoch = fb.epoch;
    this.width = fb.width;
    this.height = fb.height;
    this.tilesX = fb.tilesX;
    this.tilesY = fb.tilesY;
    this.mirror = new Uint32Array(fb.width * fb.height);
    this.sent = new Uint32Array(fb.tilesX * fb.tilesY);
    this.lossy = new Uint8Array(fb.tilesX * fb.tilesY);
    this.stale = new Uint8Array(fb.tilesX * fb.tilesY);
    this.staleCount = 0;
    this.hasLossy = false;
    this.forceFull = true;
  }

  /** Encodes what changed since the last call; `rects` is empty when nothing did. */
  encode(fb: Framebuffer, options: EncodeOptions): EncodedFrame {
    const started = performance.now();
    const now = options.now ?? Date.now();
    const refineAfter = options.refineAfterMs ?? 1000;
    let maxRefine = options.maxRefineTiles ?? 48;
    let maxRestamp = options.maxRestampTiles ?? 64;
    if (fb.epoch !== this.epoch || fb.width !== this.width || fb.height !== this.height) {
      this.adopt(fb);
    }
    const full = this.forceFull;
    this.forceFull = false;
    const watermark = this.watermark;
    const inked = watermark ? watermark.inkedTiles(this.width, this.height) : null;
    if (full && this.staleCount > 0) {
      this.stale.fill(0);
      this.staleCount = 0;
    }
    this.lastGeneration = fb.generation;
    // The shared keyframe carries no stamp: a watermarked viewer's full frame is its own.
    if (full && options.keyframe && !watermark) {
      return this.sendKeyframe(fb, options.keyframe, started);
    }
    const { tilesX, tilesY, width } = this;
    const n = tilesX * tilesY;
    const keys = new Float64Array(n).fill(NONE);
    const src = new Uint32Array(fb.data.buffer, fb.data.byteOffset, fb.width * fb.height);
    const stats = { dirty: 0, fill: 0, png: 0, jpeg: 0, copy: 0, refined: 0, restamped: 0 };
    // Tiles to bring the mirror up to date with, once moves have been looked for in it.
    const changedTiles: number[] = [];
    const regionStats = { encoded: 0, reused: 0 };
    const regions = options.regions ?? this.ownRegions;
    let lossyLeft = false;

    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        const t = ty * tilesX + tx;
        const version = fb.version[t]!;
        const x0 = tx * TILE;
        const y0 = ty * TILE;
        const w = Math.min(TILE, width - x0);
        const h = Math.min(TILE, this.height - y0);
        let refine = false;
        let restamp = false;
        if (!full && version === this.sent[t]) {
          if (this.stale[t] && maxRestamp > 0) {
            restamp = true;
            maxRestamp--;
          } else {
            if (!this.lossy[t]) continue;
            if (now - fb.lastChange[t]! < refineAfter || maxRefine <= 0) {
              lossyLeft = true;
              continue;
            }
            refine = true;
            maxRefine--;
          }
        }
        // Compare with the mirror (skip on full frames: everything goes), and test uniformity.
        let changed = full || refine || restamp;
        const first = src[y0 * width + x0]!;
        let uniform = true;
        for (let y = y0; y < y0 + h; y++) {
          const row = y * width;
          for (let i = row + x0, end = row + x0 + w; i < end; i++) {
            const p = src[i]!;
            if (!changed && p !== this.mirror[i]) changed = true;
            if (uniform && p !== first) uniform = false;
            if (changed && !uniform) break;
          }
          if (changed && !uniform) {
            // Still need the mirror copy below; no more facts to learn from this tile.
            break;
          }
        }
        this.sent[t] = version;
        if (!changed) continue;
        stats.dirty++;
        if (refine) stats.refined++;
        if (restamp) stats.restamped++;
        if (this.stale[t]) {
          this.stale[t] = 0;
          this.staleCount--;
        }
        changedTiles.push(t);
        if (uniform && !(inked && inked[t])) {
          // Framebuffer bytes are R,G,B,A; on little-endian the Uint32 is 0xAABBGGRR.
          keys[t] = ((first & 0xff) << 16) | (first & 0xff00) | ((first >>> 16) & 0xff);
          this.lossy[t] = 0;
        } else {
          keys[t] = refine ? REFINE : CONTENT;
        }
      }
    }

    const moves =
      options.copies && !full && !watermark ? this.findMoves(src, keys, changedTiles) : NO_MOVES;
    const { vectors } = moves;
    // The rects built below carry these pixels (copies: the same ones, already in the viewer).
    for (const t of changedTiles) {
      const x0 = (t % tilesX) * TILE;
      const y0 = Math.floor(t / tilesX) * TILE;
      const w = Math.min(TILE, width - x0);
      for (let y = y0, end = Math.min(y0 + TILE, this.height); y < end; y++) {
        const row = y * width + x0;
        this.mirror.set(src.subarray(row, row + w), row);
      }
    }

    // Copies first: each reads the picture from before this update.
    const copies: WireRect[] = [];
    const rects: WireRect[] = [];
    let bytes = 0;
    for (const r of mergeTiles(keys, tilesX, tilesY)) {
      const x = r.tx0 * TILE;
      const y = r.ty0 * TILE;
      const w = Math.min(r.tx1 * TILE, width) - x;
      const h = Math.min(r.ty1 * TILE, this.height) - y;
      if (r.key <= COPY) {
        const { dx, dy } = vectors[COPY - r.key]!;
        copies.push({ enc: 'copy', x, y, w, h, sx: x - dx, sy: y - dy });
        bytes += 32;
        stats.copy += (r.tx1 - r.tx0) * (r.ty1 - r.ty0);
        continue;
      }
      if (r.key >= 0) {
        rects.push({ enc: 'fill', x, y, w, h, rgb: r.key });
        bytes += 24;
        stats.fill += (r.tx1 - r.tx0) * (r.ty1 - r.ty0);
        continue;
      }
      const tiles = (r.tx1 - r.tx0) * (r.ty1 - r.ty0);
      const lossless = r.key === REFINE;
      const { codec, data, reused } = regions.get(fb, {
        x,
        y,
        w,
        h,
        lossless,
        jpegQuality: options.jpegQuality,
        watermark: watermark?.id ?? null,
        choose: () => {
          let rate = 0;
          for (let ty = r.ty0; ty < r.ty1; ty++)
            for (let tx = r.tx0; tx < r.tx1; tx++) rate += fb.changeRate(ty * tilesX + tx, now);
          return chooseCodec({
            pixels: w * h,
            ...sampleRegion(fb, x, y, w, h, 512),
            changeRate: rate / tiles,
            textMode: fb.mode === 'text',
            lossless,
          });
        },
        encode: (chosen, quality) => encodeRegion(fb, x, y, w, h, chosen, quality, watermark),
      });
      regionStats[reused ? 'reused' : 'encoded']++;
      const lossyFlag = codec === 'jpeg' ? 1 : 0;
      for (let ty = r.ty0; ty < r.ty1; ty++)
        for (let tx = r.tx0; tx < r.tx1; tx++) this.lossy[ty * tilesX + tx] = lossyFlag;
      if (lossyFlag) lossyLeft = true;
      stats[codec] += tiles;
      rects.push({ enc: codec, x, y, w, h, data });
      bytes += data.length + 40;
    }
    this.hasLossy = lossyLeft || moves.lossy;
    return {
      rects: copies.length > 0 ? [...copies, ...rects] : rects,
      full,
      bytes,
      encodeMs: performance.now() - started,
      tiles: stats,
      regions: regionStats,
    };
  }

  /**
   * Marks the changed content tiles whose new pixels the viewer already has elsewhere as copies
   * (keys COPY - vector index); each inherits whether its source was sent lossy. The mirror is
   * still the viewer's picture before this frame. Returns the vectors, and whether a copied
   * tile came from one sent lossy (so it is refined later too).
   */
  private findMoves(src: Uint32Array, keys: Float64Array, changed: number[]): Moves {
    const tiles = changed.filter((t) => keys[t] === CONTENT);
    if (tiles.length < 2) return NO_MOVES;
    const { tilesX, tilesY, width, height } = this;
    const { vectors, vectorOf } = this.motion.find({
      src,
      mirror: this.mirror,
      width,
      height,
      tilesX,
      tiles,
    });
    if (vectors.length === 0) return NO_MOVES;
    // Sources' lossiness as of before this frame, read before any tile's is changed.
    const lossyOf = tiles.map((t, i) => {
      const v = vectors[vectorOf[i]!];
      if (!v) return 0;
      const sx = (t % tilesX) * TILE - v.dx;
      const sy = Math.floor(t / tilesX) * TILE - v.dy;
      let lossy = 0;
      for (const y of [sy, sy + TILE - 1])
        for (const x of [sx, sx + TILE - 1]) {
          const tx = Math.min(tilesX - 1, Math.floor(Math.min(x, width - 1) / TILE));
          const ty = Math.min(tilesY - 1, Math.floor(Math.min(y, height - 1) / TILE));
          lossy |= this.lossy[ty * tilesX + tx]!;
        }
      return lossy;
    });
    let lossy = false;
    tiles.forEach((t, i) => {
      if (vectorOf[i]! < 0) return;
      keys[t] = COPY - vectorOf[i]!;
      this.lossy[t] = lossyOf[i]!;
      if (lossyOf[i]) lossy = true;
    });
    return { vectors, lossy };
  }

  /**
   * A full frame from the VM's keyframe cache. This viewer has then been sent every tile as it
   * is now: the mirror and the sent versions become the framebuffer's.
   */
  private sendKeyframe(fb: Framebuffer, cache: KeyframeCache, started: number): EncodedFrame {
    const keyframe = cache.get(fb);
    this.mirror.set(new Uint32Array(fb.data.buffer, fb.data.byteOffset, fb.width * fb.height));
    this.sent.set(fb.version);
    this.lossy.set(keyframe.lossy);
    this.hasLossy = keyframe.tiles.jpeg > 0;
    const all = fb.tilesX * fb.tilesY;
    return {
      rects: keyframe.rects,
      full: true,
      bytes: keyframe.bytes,
      encodeMs: performance.now() - started,
      tiles: { dirty: all, ...keyframe.tiles, copy: 0, refined: 0, restamped: 0 },
      regions: { encoded: 0, reused: 0 },
      keyframeBlocks: keyframe.blocks,
    };
  }
}

/**
 * Splits rects into groups whose approximate size stays below `maxBytes` each and that hold at
 * most `maxImages` images each: each image is a binary attachment, and socket.io's decoder refuses
 * a packet with more than 10 (socket.io-parser `maxAttachments`), closing the connection. A
 * watermark turns uniform tiles (fills) into images, so frames with many images are common then.
 */
export function splitRects(
  rects: WireRect[],
  maxBytes: number,
  maxImages: number = LIMITS.maxImagesPerMessage,
): WireRect[][] {
  const parts: WireRect[][] = [];
  let current: WireRect[] = [];
  let size = 0;
  let images = 0;
  for (const rect of rects) {
    const image = isImageRect(rect);
    const cost = isImageRect(rect) ? rect.data.length + 64 : 48;
    if (current.length > 0 && (size + cost > maxBytes || (image && images >= maxImages))) {
      parts.push(current);
      current = [];
      size = 0;
      images = 0;
    }
    current.push(rect);
    size += cost;
    if (image) images++;
  }
  if (current.length > 0 || parts.length === 0) parts.push(current);
  return parts;
}
