// Touch gestures on the canvas, as a tablet user expects them of a remote desktop:
// - tap: a left click where the finger was;
// - long press (finger still): a right click;
// - one finger moved: a left-button drag from where it started;
// - two fingers moved up or down: the wheel (content follows the fingers).
// Positions are mapped to guest pixels by the viewer (toGuest).
export interface TouchSinks {
  toGuest(clientX: number, clientY: number): { x: number; y: number };
  pointer(p: { x: number; y: number; buttons: number }): void;
  /** Wheel notches; positive scrolls down. */
  wheel(dy: number): void;
}

export const LONG_PRESS_MS = 600;
/** A finger that moves further than this (CSS px) is dragging, not tapping. */
export const TAP_SLOP_PX = 10;
/** Two-finger travel (CSS px) per wheel notch. */
export const SCROLL_STEP_PX = 30;

type Phase = 'idle' | 'pending' | 'dragging' | 'scrolling' | 'done';

export class TouchGestures {
  private readonly fingers = new Map<number, { x: number; y: number }>();
  private phase: Phase = 'idle';
  private start = { x: 0, y: 0 };
  private longPress: ReturnType<typeof setTimeout> | null = null;
  private scrollY = 0;

  constructor(private readonly sinks: TouchSinks) {}

  down(id: number, x: number, y: number): void {
    this.fingers.set(id, { x, y });
    if (this.fingers.size === 1 && (this.phase === 'idle' || this.phase === 'done')) {
      this.phase = 'pending';
      this.start = { x, y };
      this.sinks.pointer({ ...this.sinks.toGuest(x, y), buttons: 0 });
      this.longPress = setTimeout(() => this.onLongPress(), LONG_PRESS_MS);
      return;
    }
    if (this.fingers.size === 2) {
      // A second finger: scrolling, whatever the first one started.
      this.clearLongPress();
      if (this.phase === 'dragging') this.release();
      this.phase = 'scrolling';
      this.scrollY = this.midY();
    }
  }

  move(id: number, x: number, y: number): void {
    if (!this.fingers.has(id)) return;
    this.fingers.set(id, { x, y });
    switch (this.phase) {
      case 'pending':
        if (Math.hypot(x - this.start.x, y - this.start.y) > TAP_SLOP_PX) {
          this.clearLongPress();
          this.phase = 'dragging';
          this.sinks.pointer({ ...this.sinks.toGuest(this.start.x, this.start.y), buttons: 1 });
          this.sinks.pointer({ ...this.sinks.toGuest(x, y), buttons: 1 });
        }
        return;
      case 'dragging':
        this.sinks.pointer({ ...this.sinks.toGuest(x, y), buttons: 1 });
        return;
      case 'scrolling': {
        const mid = this.midY();
        const notches = Math.trunc((this.scrollY - mid) / SCROLL_STEP_PX);
        if (notches !== 0) {
          this.scrollY -= notches * SCROLL_STEP_PX;
          this.sinks.wheel(Math.max(-32, Math.min(32, notches)));
        }
        return;
      }
      default:
        return;
    }
  }

  up(id: number): void {
    const finger = this.fingers.get(id);
    if (!finger) return;
    this.fingers.delete(id);
    if (this.phase === 'pending') {
      this.clearLongPress();
      const at = this.sinks.toGuest(this.start.x, this.start.y);
      this.sinks.pointer({ ...at, buttons: 1 });
      this.sinks.pointer({ ...at, buttons: 0 });
      this.phase = 'done';
    } else if (this.phase === 'dragging') {
      this.sinks.pointer({ ...this.sinks.toGuest(finger.x, finger.y), buttons: 0 });
      this.phase = 'done';
    }
    if (this.fingers.size === 0) this.phase = 'idle';
  }

  /** Forgets every finger (the viewer went away or lost the connection). */
  cancel(): void {
    this.clearLongPress();
    if (this.phase === 'dragging') this.release();
    this.fingers.clear();
    this.phase = 'idle';
  }

  private onLongPress(): void {
    this.longPress = null;
    if (this.phase !== 'pending') return;
    const at = this.sinks.toGuest(this.start.x, this.start.y);
    this.sinks.pointer({ ...at, buttons: 2 });
    this.sinks.pointer({ ...at, buttons: 0 });
    this.phase = 'done';
  }

  private release(): void {
    const at = this.sinks.toGuest(this.start.x, this.start.y);
    this.sinks.pointer({ ...at, buttons: 0 });
  }

  private clearLongPress(): void {
    if (this.longPress) clearTimeout(this.longPress);
    this.longPress = null;
  }

  private midY(): number {
    let sum = 0;
    for (const f of this.fingers.values()) sum += f.y;
    return sum / Math.max(1, this.fingers.size);
  }
}
