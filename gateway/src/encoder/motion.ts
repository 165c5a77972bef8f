// Finds pixels that moved: for changed tiles, a vector v such that the tile's new pixels are
// exactly what the viewer already has at tile - v. A dragged window's inside and a scrolled
// terminal are such tiles; they go as copies (a few numbers) instead of images. The guest tells
// us nothing about moves, so they are searched: vectors that worked in recent frames first,
// then, for a few probe tiles, a distinctive row segment is looked for around its place.
import { TILE } from './framebuffer.ts';

export interface MotionVector {
  dx: number;
  dy: number;
}

/** How far (pixels, each axis) a probe's segment is looked for. */
const SEARCH_RADIUS = 192;
/** Probe tiles searched per frame (when recent vectors do not explain them). */
const PROBES = 3;
const MAX_VECTORS = 4;
/** Pixels of the probe row compared at each place; ones with fewer colour changes are too plain. */
const SEGMENT = 32;
const MIN_TRANSITIONS = 3;
/**
 * Fewer changed tiles than this are not searched (recent vectors are still tried): a keystroke's
 * echo changes one or two, and the search costs a few milliseconds.
 */
const MIN_TILES_TO_SEARCH = 4;

export interface MotionInput {
  /** The new picture and the viewer's (both RGBA as Uint32, `width` x `height`). */
  src: Uint32Array;
  mirror: Uint32Array;
  width: number;
  height: number;
  tilesX: number;
  /** Changed tiles with content (not uniform), candidates for copies. */
  tiles: readonly number[];
}

export interface MotionResult {
  vectors: MotionVector[];
  /** Per candidate tile (same order as `tiles`): index into `vectors`, or -1. */
  vectorOf: Int32Array;
}

export class MotionSearch {
  private recent: MotionVector[] = [];

  find(input: MotionInput): MotionResult {
    const { tiles } = input;
    const vectors: MotionVector[] = [];
    const has = (v: MotionVector) => vectors.some((u) => u.dx === v.dx && u.dy === v.dy);
    const probes = pickProbes(tiles);
    for (const v of this.recent) {
      if (probes.some((t) => tileMatches(input, t, v))) vectors.push(v);
    }
    for (const t of tiles.length >= MIN_TILES_TO_SEARCH ? probes : []) {
      if (vectors.length >= MAX_VECTORS) break;
      if (vectors.some((v) => tileMatches(input, t, v))) continue;
      for (const v of searchTile(input, t, MAX_VECTORS - vectors.length))
        if (!has(v)) vectors.push(v);
    }
    const vectorOf = new Int32Array(tiles.length).fill(-1);
    const used = new Array<number>(vectors.length).fill(0);
    if (vectors.length > 0) {
      tiles.forEach((t, i) => {
        const index = vectors.findIndex((v) => tileMatches(input, t, v));
        vectorOf[i] = index;
        if (index >= 0) used[index]!++;
      });
    }
    this.recent = vectors
      .map((v, i) => ({ v, n: used[i]! }))
      .filter(({ n }) => n > 0)
      .sort((a, b) => b.n - a.n)
      .map(({ v }) => v);
    return { vectors, vectorOf };
  }
}

function pickProbes(tiles: readonly number[]): number[] {
  if (tiles.length <= PROBES) return [...tiles];
  const step = tiles.length / PROBES;
  return Array.from({ length: PROBES }, (_, i) => tiles[Math.floor(i * step + step / 2)]!);
}

function tileBox(input: MotionInput, t: number) {
  const x0 = (t % input.tilesX) * TILE;
  const y0 = Math.floor(t / input.tilesX) * TILE;
  return { x0, y0, w: Math.min(TILE, input.width - x0), h: Math.min(TILE, input.height - y0) };
}

/** Whether tile `t`'s new pixels are the viewer's at t - v, all of them. */
export function tileMatches(input: MotionInput, t: number, v: MotionVector): boolean {
  const { src, mirror, width, height } = input;
  const { x0, y0, w, h } = tileBox(input, t);
  const sx = x0 - v.dx;
  const sy = y0 - v.dy;
  if ((v.dx === 0 && v.dy === 0) || sx < 0 || sy < 0 || sx + w > width || sy + h > height)
    return false;
  for (let y = 0; y < h; y++) {
    const a = (y0 + y) * width + x0;
    const b = (sy + y) * width + sx;
    for (let i = 0; i < w; i++) if (src[a + i] !== mirror[b + i]) return false;
  }
  return true;
}

/** Vectors under which tile `t` matches, found from its most varied row segment. */
function searchTile(input: MotionInput, t: number, limit: number): MotionVector[] {
  const { src, mirror, width, height } = input;
  const { x0, y0, w, h } = tileBox(input, t);
  const length = Math.min(SEGMENT, w);
  let bestRow = -1;
  let bestTransitions = MIN_TRANSITIONS - 1;
  for (let y = 0; y < h; y++) {
    const row = (y0 + y) * width + x0;
    let transitions = 0;
    for (let i = 1; i < length; i++) if (src[row + i] !== src[row + i - 1]) transitions++;
    if (transitions > bestTransitions) {
      bestTransitions = transitions;
      bestRow = y;
    }
  }
  if (bestRow < 0) return [];
  const segment = src.subarray((y0 + bestRow) * width + x0, (y0 + bestRow) * width + x0 + length);
  const first = segment[0]!;
  const last = segment[length - 1]!;
  const found: MotionVector[] = [];
  const y = y0 + bestRow;
  // Nearest rows first: the true move is usually small, and any exact match is a valid source.
  for (let step = 0; step <= 2 * SEARCH_RADIUS; step++) {
    const dy = step % 2 === 0 ? step / 2 : -(step + 1) / 2;
    const sy = y - dy;
    if (sy < 0 || sy >= height || sy - bestRow < 0 || sy - bestRow + h > height) continue;
    const rowStart = sy * width;
    const dxFrom = Math.max(-SEARCH_RADIUS, x0 + w - width);
    const dxTo = Math.min(SEARCH_RADIUS, x0);
    for (let dx = dxFrom; dx <= dxTo; dx++) {
      const at = rowStart + x0 - dx;
      if (mirror[at] !== first || mirror[at + length - 1] !== last) continue;
      let same = true;
      for (let i = 1; i < length - 1; i++) {
        if (mirror[at + i] !== segment[i]) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      const v = { dx, dy };
      if (tileMatches(input, t, v)) {
        found.push(v);
        if (found.length >= limit) return found;
      }
    }
  }
  return found;
}
