// Tile-grid helpers: merge marked tiles into rectangles. Pure functions, no pixels.

/** Grid cell key: NONE = not to send; otherwise cells merge only with equal keys. */
export const NONE = -1;

export interface TileRectangle {
  /** Tile coordinates, inclusive-exclusive. */
  tx0: number;
  ty0: number;
  tx1: number;
  ty1: number;
  key: number;
}

/**
 * Merges cells with the same key into rectangles: horizontal runs per row, then runs with the
 * same span and key in consecutive rows are stacked. `maxTiles` bounds a rectangle's area (in
 * tiles) so one encoded image stays well below the message cap; `maxRun` bounds a run's width.
 */
export function mergeTiles(
  keys: ArrayLike<number>,
  tilesX: number,
  tilesY: number,
  maxTiles = 32,
  maxRun = 16,
): TileRectangle[] {
  const done: TileRectangle[] = [];
  // Rectangles still open at the previous row, keyed by "tx0,tx1,key".
  let open = new Map<string, TileRectangle>();
  for (let ty = 0; ty < tilesY; ty++) {
    const next = new Map<string, TileRectangle>();
    let tx = 0;
    while (tx < tilesX) {
      const key = keys[ty * tilesX + tx]!;
      if (key === NONE) {
        tx++;
        continue;
      }
      let end = tx + 1;
      while (end < tilesX && end - tx < maxRun && keys[ty * tilesX + end] === key) end++;
      const id = `${tx},${end},${key}`;
      const above = open.get(id);
      const width = end - tx;
      if (above && (above.ty1 - above.ty0 + 1) * width <= maxTiles) {
        above.ty1 = ty + 1;
        open.delete(id);
        next.set(id, above);
      } else {
        const rect = { tx0: tx, ty0: ty, tx1: end, ty1: ty + 1, key };
        next.set(id, rect);
      }
      tx = end;
    }
    for (const rect of open.values()) done.push(rect);
    open = next;
  }
  for (const rect of open.values()) done.push(rect);
  // Top-to-bottom, left-to-right: the order the viewer paints them in.
  done.sort((a, b) => a.ty0 - b.ty0 || a.tx0 - b.tx0);
  return done;
}
