// Keyboard capture by physical key (`KeyboardEvent.code`). Every key sent to the VM has its
// default prevented while the canvas has focus (Tab, F-keys, Backspace, Ctrl+letter, ...);
// in fullscreen the Keyboard Lock API also claims Escape and system shortcuts where supported.
// AltGr: Windows reports it as ControlLeft + AltRight with the same timestamp; the fake
// ControlLeft is held back briefly and dropped when AltRight follows (as noVNC does).
export type KeySink = (code: string, down: boolean) => void;

const ALTGR_WINDOW_MS = 50;

export class KeyboardCapture {
  private readonly pressed = new Set<string>();
  private pendingCtrl: { timeStamp: number; timer: ReturnType<typeof setTimeout> } | null = null;
  private readonly onDown = (e: KeyboardEvent) => this.handle(e, true);
  private readonly onUp = (e: KeyboardEvent) => this.handle(e, false);
  private readonly onBlur = () => this.releaseAll();
  private readonly onVisibility = () => {
    if (document.hidden) this.releaseAll();
  };
  enabled = true;

  constructor(
    private readonly target: HTMLElement,
    private readonly sink: KeySink,
  ) {
    target.addEventListener('keydown', this.onDown);
    target.addEventListener('keyup', this.onUp);
    target.addEventListener('blur', this.onBlur);
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  destroy(): void {
    this.releaseAll();
    this.target.removeEventListener('keydown', this.onDown);
    this.target.removeEventListener('keyup', this.onUp);
    this.target.removeEventListener('blur', this.onBlur);
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  private send(code: string, down: boolean): void {
    if (down) this.pressed.add(code);
    else if (!this.pressed.delete(code)) return; // never sent a down for it
    this.sink(code, down);
  }

  private flushCtrl(): void {
    if (!this.pendingCtrl) return;
    clearTimeout(this.pendingCtrl.timer);
    this.pendingCtrl = null;
    this.send('ControlLeft', true);
  }

  private handle(e: KeyboardEvent, down: boolean): void {
    if (!this.enabled) return;
    const code = e.code;
    if (!code || code === 'Unidentified' || e.isComposing) return;
    e.preventDefault();
    e.stopPropagation();
    if (down && code === 'ControlLeft' && !this.pressed.has('ControlLeft')) {
      this.flushCtrl();
      this.pendingCtrl = {
        timeStamp: e.timeStamp,
        timer: setTimeout(() => this.flushCtrl(), ALTGR_WINDOW_MS),
      };
      return;
    }
    if (this.pendingCtrl) {
      if (down && code === 'AltRight' && Math.abs(e.timeStamp - this.pendingCtrl.timeStamp) < 2) {
        clearTimeout(this.pendingCtrl.timer);
        this.pendingCtrl = null; // the ControlLeft was AltGr's shadow
      } else {
        this.flushCtrl(); // a real Ctrl (possibly released already: its up follows)
      }
    }
    this.send(code, down);
  }

  /** Lets go of everything (focus lost, tab hidden, disconnect). */
  releaseAll(): void {
    if (this.pendingCtrl) {
      clearTimeout(this.pendingCtrl.timer);
      this.pendingCtrl = null;
    }
    for (const code of [...this.pressed]) this.send(code, false);
  }
}
