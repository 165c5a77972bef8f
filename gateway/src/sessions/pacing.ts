// When a viewer with no frame in flight gets its next frame. One frame in flight per viewer is
// the backpressure (the caller never asks while one is); within that, small updates such as a
// keystroke's echo go at once, and bigger ones keep the quality tier's minimum interval so a
// busy screen paces itself.

/**
 * Updates of at most this many 64x64 tiles (a keystroke's echo, a cursor blink, a menu item)
 * skip the minimum interval.
 */
export const DEFAULT_SMALL_UPDATE_TILES = 16;

export interface PacingState {
  now: number;
  /** The tier's minimum interval after the last frame sent ends here. */
  nextAllowed: number;
  /** A delay the caller asks for (e.g. to refine lossy tiles later); 0 = none. */
  delayMs: number;
  /** Tiles the viewer has not been sent yet (counted up to `smallUpdateTiles + 1`). */
  changedTiles: number;
  /** 0 makes every update wait for the interval. */
  smallUpdateTiles: number;
}

/** Milliseconds until the next frame may be encoded and sent. */
export function frameDelayMs(state: PacingState): number {
  const small =
    state.delayMs === 0 &&
    state.smallUpdateTiles > 0 &&
    state.changedTiles <= state.smallUpdateTiles;
  return small ? 0 : Math.max(state.delayMs, state.nextAllowed - state.now, 0);
}

/**
 * A viewer's one pending flush, at the earliest moment asked for: an update due now is not held
 * back behind a flush armed for later (refining lossy tiles in 300 ms, the tier's interval),
 * such as the first update after a relocation's freeze.
 */
export class FlushTimer {
  private timer: NodeJS.Timeout | null = null;
  private dueAt = 0;

  constructor(private readonly run: () => void) {}

  get armed(): boolean {
    return this.timer !== null;
  }

  /** Runs the flush in `waitMs`, unless it is already due by then. */
  arm(waitMs: number, now = Date.now()): void {
    if (this.timer) {
      if (this.dueAt <= now + waitMs) return;
      clearTimeout(this.timer);
    }
    this.dueAt = now + waitMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, waitMs);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
