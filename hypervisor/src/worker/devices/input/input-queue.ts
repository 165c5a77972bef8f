// The order in which a viewer's input reaches the guest, and when. Key events are paced
// (KeyPacer). Pointer and wheel events go at once, unless something waits before them or input
// is held: the guest agent is changing the screen mode or the keymap. Then they wait in order
// with the keys. JWM restarts itself when the screen changes size and, on the way up, discards
// the events queued for it (`XSync(display, True)`); a click that reached it then activated its
// passive button grab, which freezes the pointer until JWM replays it, and JWM never did: the
// guest's pointer stayed frozen for good while keys still typed.
import type { KeyEvent } from './input-device.ts';
import { KeyPacer, type GuestProgress } from './key-pacer.ts';

export type QueuedInput =
  | { kind: 'key'; code: string; down: boolean }
  | { kind: 'char'; char: string }
  | { kind: 'pointer'; x: number; y: number; buttons: number }
  | { kind: 'wheel'; dx: number; dy: number };

/** A pointer event, and whether its buttons differ from the event before it. */
type WaitingPointer = Extract<QueuedInput, { kind: 'pointer' }> & { buttonChange: boolean };
type Waiting = Exclude<QueuedInput, { kind: 'pointer' }> | WaitingPointer;

/** What the queue feeds: the domain's input device, with the screen size bound in. */
export interface InputTarget {
  key(code: string, down: boolean): void;
  /** The key events that type `ch` from the keys held now; null if the layout cannot. */
  planChar(ch: string): KeyEvent[] | null;
  pointer(x: number, y: number, buttons: number): void;
  wheel(dx: number, dy: number): void;
}

export class InputQueue {
  private readonly waiting: Waiting[] = [];
  /** Pointer buttons of the newest pointer event, sent or waiting. */
  private buttons = 0;

  constructor(
    private readonly target: InputTarget,
    private readonly pacer = new KeyPacer(),
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  /** Input waits from now until `release` and the guest has settled after it. */
  hold(): void {
    this.pacer.hold();
  }

  release(progress: GuestProgress): void {
    this.pacer.release(progress);
  }

  /** Drops what waits (the viewer left; the device releases its keys and buttons itself). */
  clear(): void {
    this.waiting.length = 0;
    this.pacer.reset();
    this.buttons = 0;
  }

  /**
   * Adds one event. A pointer or wheel event goes to the guest now when nothing waits and input
   * is not held. A move that waits replaces a move waiting before it (only the newest position
   * matters); button changes and wheel notches are all kept, in order. Returns true when
   * something waits: the caller runs `feed` (now, if it has no feed scheduled).
   */
  push(input: QueuedInput, progress: GuestProgress): boolean {
    const direct = this.waiting.length === 0 && !this.pacer.holding(progress);
    if (input.kind === 'wheel') {
      if (direct) this.target.wheel(input.dx, input.dy);
      else this.waiting.push(input);
      return !direct;
    }
    if (input.kind !== 'pointer') {
      this.waiting.push(input);
      return true;
    }
    const buttonChange = input.buttons !== this.buttons;
    this.buttons = input.buttons;
    if (direct) {
      this.sendPointer({ ...input, buttonChange }, progress);
      return false;
    }
    const tail = this.waiting.at(-1);
    if (!buttonChange && tail?.kind === 'pointer' && !tail.buttonChange) {
      tail.x = input.x;
      tail.y = input.y;
    } else {
      this.waiting.push({ ...input, buttonChange });
    }
    return true;
  }

  /**
   * Sends what may go now: at most one key event (the caller waits its gap before the next
   * call), and every pointer and wheel event up to it. A key press waits until the guest has
   * taken in what went before (KeyPacer), and while input is held; a key release never waits
   * at the head of the queue. Returns true while the caller should call again after its gap.
   */
  feed(progress: GuestProgress): boolean {
    for (;;) {
      let next = this.waiting.shift();
      // A character becomes its key events when its turn comes, so the modifiers it adds or
      // lets go of follow the keys before it. One the guest's layout cannot type is dropped.
      while (next?.kind === 'char') {
        const keys = this.target.planChar(next.char) ?? [];
        this.waiting.unshift(...keys.map((k) => ({ kind: 'key' as const, ...k })));
        next = this.waiting.shift();
      }
      if (!next) return false;
      if (next.kind === 'key') {
        if (next.down && !this.pacer.ready(progress)) {
          this.waiting.unshift(next);
          return true;
        }
        this.target.key(next.code, next.down);
        this.pacer.sent(progress);
        // The gap after a key applies to the next key even if it has not arrived yet.
        return true;
      }
      if (this.pacer.holding(progress)) {
        this.waiting.unshift(next);
        return true;
      }
      if (next.kind === 'wheel') this.target.wheel(next.dx, next.dy);
      else this.sendPointer(next, progress);
    }
  }

  private sendPointer(input: WaitingPointer, progress: GuestProgress): void {
    this.target.pointer(input.x, input.y, input.buttons);
    // A click is taken in before the next key press goes (a click that focuses a window, then
    // typing into it).
    if (input.buttonChange) this.pacer.sent(progress);
  }
}
