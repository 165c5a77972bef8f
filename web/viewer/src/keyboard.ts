// Keyboard capture. A key whose event carries a printable character (`KeyboardEvent.key`) is sent
// as that character, and the VM's host types it with whatever Shift, AltGr or dead key the
// guest's layout needs (as noVNC does with keysyms): what an on-screen keyboard, an IME, a
// local layout or automation produced arrives as typed. Everything else goes by physical key
// (`KeyboardEvent.code`): non-printing keys, shortcuts with Ctrl/Alt/Meta, modifiers, and every
// key in "physical keys" mode (games, which need keys held down). A local dead key sends
// nothing; the character it composes comes with the next key.
// Every key sent has its default prevented while the target has focus (Tab, F-keys, Backspace,
// Ctrl+letter, ...); in fullscreen the Keyboard Lock API also claims Escape and system
// shortcuts where supported.
// AltGr: Windows reports it as ControlLeft + AltRight with the same timestamp; the fake
// ControlLeft is held back briefly and dropped when AltRight follows (as noVNC does).
// Phones: their keyboards send key "Unidentified" (or "Process") and put the text into the
// focused field; TextFieldCapture reads it from a hidden field's `input` events.
export type KeySink = (code: string, down: boolean) => void;
export type CharSink = (char: string) => void;

const ALTGR_WINDOW_MS = 50;

/** One printable code point (space included), as the gateway's typed-character schema takes. */
export function isTypedChar(key: string): boolean {
  return /^[^\p{C}]$/u.test(key);
}

export class KeyboardCapture {
  private readonly pressed = new Set<string>();
  private pendingCtrl: { timeStamp: number; timer: ReturnType<typeof setTimeout> } | null = null;
  private readonly onDown = (e: KeyboardEvent) => this.handle(e, true);
  private readonly onUp = (e: KeyboardEvent) => this.handle(e, false);
  private readonly onBlur = () => this.releaseAll();
  private readonly onVisibility = () => {
    if (document.hidden) this.releaseAll();
  };
  private readonly targets: HTMLElement[] = [];
  enabled = true;
  /** False: every key goes by its physical code (games). */
  typeCharacters = true;

  constructor(
    target: HTMLElement,
    private readonly sink: KeySink,
    private readonly charSink: CharSink = () => undefined,
  ) {
    this.attach(target);
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** Also captures keys on another element (the hidden text field of the on-screen keyboard). */
  attach(target: HTMLElement): void {
    this.targets.push(target);
    target.addEventListener('keydown', this.onDown);
    target.addEventListener('keyup', this.onUp);
    target.addEventListener('blur', this.onBlur);
  }

  destroy(): void {
    this.releaseAll();
    for (const target of this.targets) {
      target.removeEventListener('keydown', this.onDown);
      target.removeEventListener('keyup', this.onUp);
      target.removeEventListener('blur', this.onBlur);
    }
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

  /** A shortcut keeps its physical keys: Ctrl, Alt or Meta held, unless it is AltGr. */
  private static isShortcut(e: KeyboardEvent): boolean {
    if (e.metaKey) return true;
    if (!e.ctrlKey && !e.altKey) return false;
    return !e.getModifierState?.('AltGraph');
  }

  private handle(e: KeyboardEvent, down: boolean): void {
    if (!this.enabled) return;
    // Left to the text field's `input` events: a phone keyboard, an IME composing.
    if (e.isComposing || e.key === 'Process' || e.key === 'Unidentified') return;
    const typed = this.typeCharacters && (e.key === 'Dead' || isTypedChar(e.key));
    if (typed && !KeyboardCapture.isShortcut(e)) {
      e.preventDefault();
      e.stopPropagation();
      // The release of a key sent as a character is dropped by send(): it was never pressed.
      if (down && e.key !== 'Dead') {
        this.flushCtrl();
        this.charSink(e.key);
      } else if (!down && e.code) {
        this.send(e.code, false); // pressed as a physical key before (a shortcut), released now
      }
      return;
    }
    const code = e.code;
    if (!code || code === 'Unidentified') return;
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

/**
 * Text typed into a hidden field by a phone or tablet keyboard, which sends no usable key
 * events: each `input` event is compared with what the field held (a fixed filler, so that
 * Backspace always has something to delete), and the difference goes out as Backspace key
 * presses and characters; then the filler is put back. Composition (predictive text) is read
 * when it ends.
 */
export class TextFieldCapture {
  static readonly FILLER = '_'.repeat(24);
  private readonly onInput = (e: Event) => {
    if ((e as InputEvent).isComposing) return;
    this.sync();
  };
  private readonly onCompositionEnd = () => this.sync();

  constructor(
    readonly field: HTMLTextAreaElement | HTMLInputElement,
    private readonly key: (code: string) => void,
    private readonly char: CharSink,
  ) {
    this.reset();
    field.addEventListener('input', this.onInput);
    field.addEventListener('compositionend', this.onCompositionEnd);
    field.addEventListener('focus', () => this.reset());
  }

  destroy(): void {
    this.field.removeEventListener('input', this.onInput);
    this.field.removeEventListener('compositionend', this.onCompositionEnd);
  }

  private reset(): void {
    this.field.value = TextFieldCapture.FILLER;
    const end = TextFieldCapture.FILLER.length;
    this.field.setSelectionRange?.(end, end);
  }

  private sync(): void {
    const before = [...TextFieldCapture.FILLER];
    const after = [...this.field.value];
    let same = 0;
    while (same < before.length && same < after.length && before[same] === after[same]) same++;
    for (let i = same; i < before.length; i++) this.key('Backspace');
    for (const ch of after.slice(same)) {
      if (ch === '\n' || ch === '\r') this.key('Enter');
      else if (ch === '\t') this.key('Tab');
      else if (isTypedChar(ch)) this.char(ch);
    }
    this.reset();
  }
}
