// Keyboard and absolute pointer of one domain, over its v86 instance (VM worker side).
// Keys go in as PS/2 set-1 scancodes; the pointer goes through v86's VMware absolute mouse
// (the guest sees "VirtualPS/2 VMware VMMouse"), so guest pixel coordinates map straight in.
import { scancodesFor } from './keymap.ts';
import type { KeyboardLayout } from '../../../api/protocol.ts';
import { strokesFor } from './layouts.ts';

/** One physical key event, by KeyboardEvent.code. */
export interface KeyEvent {
  code: string;
  down: boolean;
}

const SHIFT_KEYS = ['ShiftLeft', 'ShiftRight'];
const ALTGR = 'AltRight';

/** The slice of v86 this device uses. */
export interface V86InputLike {
  keyboard_send_scancodes(codes: number[]): void;
  bus: { send(event: string, data?: unknown): void };
}

/** Pointer button bits, as in MouseEvent.buttons: 1 left, 2 right, 4 middle. */
export const BUTTON_LEFT = 1;
export const BUTTON_RIGHT = 2;
export const BUTTON_MIDDLE = 4;

export class InputDevice {
  private readonly emulator: V86InputLike;
  /** Codes currently held down (by their KeyboardEvent.code), in press order. */
  private readonly pressed = new Set<string>();
  private buttons = 0;
  private lastX = -1;
  private lastY = -1;
  /** Sign of the next interrupt-raising PS/2 nudge; alternates so the nudges cancel out. */
  private nudge = 1;
  /** The guest's X layout as the agent set it; null: X's default (plain us). */
  private layout: KeyboardLayout | null = null;
  /** Caps Lock as toggled by the keys sent (the guest starts with it off). */
  private capsLock = false;

  constructor(emulator: V86InputLike) {
    this.emulator = emulator;
  }

  /**
   * A key press or release by KeyboardEvent.code. Returns false (and sends nothing) for an
   * unknown code. A repeated press (auto-repeat) sends the make code again, as a keyboard does.
   * A release of a key not held is still sent (harmless, and unsticks a guest out of sync).
   */
  key(code: string, down: boolean): boolean {
    const codes = scancodesFor(code, down);
    if (codes === null) return false;
    if (down) {
      if (code === 'CapsLock' && !this.pressed.has(code)) this.capsLock = !this.capsLock;
      // Pause has no break code: never held.
      if (code !== 'Pause') this.pressed.add(code);
    } else {
      this.pressed.delete(code);
    }
    if (codes.length > 0) this.emulator.keyboard_send_scancodes(codes);
    return true;
  }

  setLayout(layout: KeyboardLayout): void {
    this.layout = layout;
  }

  keyboardLayout(): KeyboardLayout | null {
    return this.layout;
  }

  /**
   * The key events that type `ch` on the guest's layout from the keys held now: Shift and AltGr
   * are pressed, or held ones let go, around the key and restored after it (noVNC does the
   * same with keysyms). Null when the layout has no way to type `ch`; the caller drops it.
   */
  planChar(ch: string): KeyEvent[] | null {
    const strokes = strokesFor(this.layout, ch);
    if (!strokes) return null;
    const events: KeyEvent[] = [];
    const heldShifts = SHIFT_KEYS.filter((code) => this.pressed.has(code));
    const altGrHeld = this.pressed.has(ALTGR);
    for (const [i, stroke] of strokes.entries()) {
      // Caps Lock inverts Shift for letters (the composed letter is the last stroke's).
      const letter = i === strokes.length - 1 && ch.toLowerCase() !== ch.toUpperCase();
      const shift = stroke.shift !== (letter && this.capsLock);
      const before: KeyEvent[] = [];
      if (shift && heldShifts.length === 0) before.push({ code: 'ShiftLeft', down: true });
      if (!shift) for (const code of heldShifts) before.push({ code, down: false });
      if (stroke.altGr && !altGrHeld) before.push({ code: ALTGR, down: true });
      if (!stroke.altGr && altGrHeld) before.push({ code: ALTGR, down: false });
      const after = before.map((e) => ({ code: e.code, down: !e.down })).reverse();
      events.push(
        ...before,
        { code: stroke.code, down: true },
        { code: stroke.code, down: false },
        ...after,
      );
    }
    return events;
  }

  /** Codes currently held. */
  heldKeys(): string[] {
    return [...this.pressed];
  }

  /**
   * Releases every held key (last pressed first) and mouse button, e.g. when a viewer detaches
   * or another takes over, so no modifier stays stuck in the guest.
   */
  releaseAll(): void {
    const held = [...this.pressed].reverse();
    this.pressed.clear();
    const codes: number[] = [];
    for (const code of held) codes.push(...(scancodesFor(code, false) ?? []));
    if (codes.length > 0) this.emulator.keyboard_send_scancodes(codes);
    if (this.buttons !== 0) {
      this.buttons = 0;
      this.emulator.bus.send('mouse-click', [false, false, false]);
    }
  }

  /** Ctrl+Alt+Delete as one burst: presses then releases in reverse order. */
  sendCtrlAltDel(): void {
    this.emulator.keyboard_send_scancodes([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
  }

  /**
   * Moves the absolute pointer to guest pixel (x, y) of a screen of the given size and updates
   * buttons (bit 0 left, bit 1 right, bit 2 middle). Clicks are sent only when buttons change.
   *
   * Every move must also raise IRQ 12: v86's VMware device only queues the position, and the
   * guest's vmmouse driver reads that queue when a PS/2 mouse packet arrives. Without one, moves
   * waited in the queue (collapsed to the newest) until the next click: X saw a press, then the
   * last position together with the release, so window drags did nothing.
   */
  pointer(x: number, y: number, buttons: number, screenWidth: number, screenHeight: number): void {
    const b = buttons & 7;
    if (screenWidth > 0 && screenHeight > 0 && (x !== this.lastX || y !== this.lastY)) {
      this.lastX = x;
      this.lastY = y;
      // v86 scales x/w to 0..65535; using (w-1) maps the last pixel column to 65535 exactly.
      const cx = Math.max(0, Math.min(x, screenWidth - 1));
      const cy = Math.max(0, Math.min(y, screenHeight - 1));
      this.emulator.bus.send('mouse-absolute', [
        cx,
        cy,
        Math.max(1, screenWidth - 1),
        Math.max(1, screenHeight - 1),
      ]);
      // A button change below sends its own PS/2 packet; a pure move needs one.
      if (b === this.buttons) this.raisePointerInterrupt();
    }
    if (b !== this.buttons) {
      this.buttons = b;
      // v86 wants [left, middle, right].
      this.emulator.bus.send('mouse-click', [
        (b & BUTTON_LEFT) !== 0,
        (b & BUTTON_MIDDLE) !== 0,
        (b & BUTTON_RIGHT) !== 0,
      ]);
    }
  }

  /**
   * Makes v86's PS/2 mouse send one packet (and so IRQ 12), as v86's own browser adapter does
   * with a mouse-delta beside each mouse-absolute. The vmmouse driver ignores the packet's
   * contents and drains the VMware queue; v86 drops zero deltas, so this is a one-count nudge
   * whose sign alternates, netting zero for a guest that reads the plain PS/2 stream instead.
   */
  private raisePointerInterrupt(): void {
    this.emulator.bus.send('mouse-delta', [this.nudge, 0]);
    this.nudge = -this.nudge;
  }

  /**
   * Wheel notches; positive dy scrolls down. v86's mouse-wheel takes [vertical, horizontal]
   * with positive vertical meaning up (browser wheelDelta sign). Its VMware mouse ignores the
   * horizontal part and its PS/2 mouse folds it into the vertical wheel, so dx is dropped.
   */
  wheel(_dx: number, dy: number): void {
    if (dy !== 0) this.emulator.bus.send('mouse-wheel', [-dy, 0]);
  }
}
