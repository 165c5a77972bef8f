// When the next key event may go to the guest's keyboard controller. A wall-clock gap alone is
// not enough: on a loaded host the guest runs for a fraction of that gap, the keys pile up in
// the guest and the kernel's evdev buffer overflows before Xorg reads it, dropping part of the
// line (SYN_DROPPED). So the next event waits until the guest has taken in the last one, by
// guest progress rather than by the clock.

/** How far the guest has run, as the worker's CPU governor and v86 count it. */
export interface GuestProgress {
  /** Emulation slices (v86 main loops) finished so far. */
  slices: number;
  /** The last slice that ended with the guest halted (idle), -1 if none. */
  idleSlice: number;
  /** v86's instruction counter (an unsigned 32-bit count that wraps). */
  instructions: number;
}

/**
 * Guest instructions after which a guest that never went idle has had enough CPU to read a key
 * event (about 10-20 ms of guest time at v86's speed here).
 */
export const KEY_EVENT_INSTRUCTIONS = 1_000_000;

/**
 * After a hold (the guest agent changed the screen mode or keymap), presses wait until the guest
 * has been idle once, at most this many guest instructions (2-4 s of guest time): X and the
 * window manager go on reconfiguring after the agent answers, or after its request timed out
 * on a starved guest, and keys typed meanwhile were lost.
 */
export const KEY_HOLD_SETTLE_INSTRUCTIONS = 100_000_000;

export class KeyPacer {
  private last: GuestProgress | null = null;
  private held = false;
  /** Where the guest was when the last hold ended, until it has settled after it. */
  private settlingFrom: GuestProgress | null = null;

  constructor(
    private readonly minInstructions = KEY_EVENT_INSTRUCTIONS,
    private readonly settleInstructions = KEY_HOLD_SETTLE_INSTRUCTIONS,
  ) {}

  /** Input waits from now until `release` and the guest has settled after it (see holding). */
  hold(): void {
    this.held = true;
    this.settlingFrom = null;
  }

  /** The change that held the keys is over (answered or timed out) at `progress`. */
  release(progress: GuestProgress): void {
    if (!this.held) return;
    this.held = false;
    this.settlingFrom = { ...progress };
  }

  /** A key event went to the guest now. */
  sent(progress: GuestProgress): void {
    this.last = { ...progress };
  }

  /** Forgets the last event (the queue was dropped, or the guest was replaced). */
  reset(): void {
    this.last = null;
  }

  /**
   * True while held, and after the hold until the guest has been idle once (or ran
   * `settleInstructions`): key presses, pointer and wheel events wait meanwhile. Only key
   * releases go in, so no key stays down in the guest longer than it was typed.
   */
  holding(now: GuestProgress): boolean {
    if (this.held) return true;
    const from = this.settlingFrom;
    if (!from) return false;
    const settled =
      now.idleSlice > from.slices ||
      (now.instructions - from.instructions) >>> 0 >= this.settleInstructions;
    if (!settled) return true;
    this.settlingFrom = null;
    return false;
  }

  /**
   * True when the guest has taken in the last event: a slice run after it ended with the guest
   * idle (every task that the event woke, Xorg included, has run), or the guest, busy, ran
   * `minInstructions` since; and never while held or settling after a hold. A guest that does
   * not run (paused, starved) holds the rest back.
   */
  ready(now: GuestProgress): boolean {
    if (this.holding(now)) return false;
    const last = this.last;
    if (!last) return true;
    if (now.idleSlice > last.slices) return true;
    return (now.instructions - last.instructions) >>> 0 >= this.minInstructions;
  }
}
