// Browser KeyboardEvent.code -> PS/2 scancode set 1.
// A make code is one byte, or 0xE0 followed by one byte for extended keys. The break code is the
// make code with bit 7 set (after any 0xE0 prefix). PrintScreen and Pause have their own
// sequences. Codes follow the UI Events KeyboardEvent code values spec and the USB HID to PS/2
// translation table.

/** Make codes of single-byte (non-extended) keys. */
const BASIC: Readonly<Record<string, number>> = {
  Escape: 0x01,
  Digit1: 0x02,
  Digit2: 0x03,
  Digit3: 0x04,
  Digit4: 0x05,
  Digit5: 0x06,
  Digit6: 0x07,
  Digit7: 0x08,
  Digit8: 0x09,
  Digit9: 0x0a,
  Digit0: 0x0b,
  Minus: 0x0c,
  Equal: 0x0d,
  Backspace: 0x0e,
  Tab: 0x0f,
  KeyQ: 0x10,
  KeyW: 0x11,
  KeyE: 0x12,
  KeyR: 0x13,
  KeyT: 0x14,
  KeyY: 0x15,
  KeyU: 0x16,
  KeyI: 0x17,
  KeyO: 0x18,
  KeyP: 0x19,
  BracketLeft: 0x1a,
  BracketRight: 0x1b,
  Enter: 0x1c,
  ControlLeft: 0x1d,
  KeyA: 0x1e,
  KeyS: 0x1f,
  KeyD: 0x20,
  KeyF: 0x21,
  KeyG: 0x22,
  KeyH: 0x23,
  KeyJ: 0x24,
  KeyK: 0x25,
  KeyL: 0x26,
  Semicolon: 0x27,
  Quote: 0x28,
  Backquote: 0x29,
  ShiftLeft: 0x2a,
  Backslash: 0x2b,
  KeyZ: 0x2c,
  KeyX: 0x2d,
  KeyC: 0x2e,
  KeyV: 0x2f,
  KeyB: 0x30,
  KeyN: 0x31,
  KeyM: 0x32,
  Comma: 0x33,
  Period: 0x34,
  Slash: 0x35,
  ShiftRight: 0x36,
  NumpadMultiply: 0x37,
  AltLeft: 0x38,
  Space: 0x39,
  CapsLock: 0x3a,
  F1: 0x3b,
  F2: 0x3c,
  F3: 0x3d,
  F4: 0x3e,
  F5: 0x3f,
  F6: 0x40,
  F7: 0x41,
  F8: 0x42,
  F9: 0x43,
  F10: 0x44,
  NumLock: 0x45,
  ScrollLock: 0x46,
  Numpad7: 0x47,
  Numpad8: 0x48,
  Numpad9: 0x49,
  NumpadSubtract: 0x4a,
  Numpad4: 0x4b,
  Numpad5: 0x4c,
  Numpad6: 0x4d,
  NumpadAdd: 0x4e,
  Numpad1: 0x4f,
  Numpad2: 0x50,
  Numpad3: 0x51,
  Numpad0: 0x52,
  NumpadDecimal: 0x53,
  IntlBackslash: 0x56,
  F11: 0x57,
  F12: 0x58,
  NumpadEqual: 0x59,
  F13: 0x64,
  F14: 0x65,
  F15: 0x66,
  F16: 0x67,
  F17: 0x68,
  F18: 0x69,
  F19: 0x6a,
  F20: 0x6b,
  F21: 0x6c,
  F22: 0x6d,
  F23: 0x6e,
  F24: 0x76,
  KanaMode: 0x70,
  Lang2: 0x71,
  Lang1: 0x72,
  IntlRo: 0x73,
  Convert: 0x79,
  NonConvert: 0x7b,
  IntlYen: 0x7d,
  NumpadComma: 0x7e,
};

/** Make codes (second byte) of keys sent as 0xE0 xx. */
const EXTENDED: Readonly<Record<string, number>> = {
  MediaTrackPrevious: 0x10,
  MediaTrackNext: 0x19,
  NumpadEnter: 0x1c,
  ControlRight: 0x1d,
  AudioVolumeMute: 0x20,
  LaunchApp2: 0x21,
  MediaPlayPause: 0x22,
  MediaStop: 0x24,
  AudioVolumeDown: 0x2e,
  AudioVolumeUp: 0x30,
  BrowserHome: 0x32,
  NumpadDivide: 0x35,
  AltRight: 0x38, // AltGr
  Home: 0x47,
  ArrowUp: 0x48,
  PageUp: 0x49,
  ArrowLeft: 0x4b,
  ArrowRight: 0x4d,
  End: 0x4f,
  ArrowDown: 0x50,
  PageDown: 0x51,
  Insert: 0x52,
  Delete: 0x53,
  MetaLeft: 0x5b,
  MetaRight: 0x5c,
  ContextMenu: 0x5d,
  Power: 0x5e,
  Sleep: 0x5f,
  WakeUp: 0x63,
  BrowserSearch: 0x65,
  BrowserFavorites: 0x66,
  BrowserRefresh: 0x67,
  BrowserStop: 0x68,
  BrowserForward: 0x69,
  BrowserBack: 0x6a,
  LaunchApp1: 0x6b,
  LaunchMail: 0x6c,
  MediaSelect: 0x6d,
};

/** Older names some browsers still send for the same physical keys. */
const ALIASES: Readonly<Record<string, string>> = {
  OSLeft: 'MetaLeft',
  OSRight: 'MetaRight',
  VolumeMute: 'AudioVolumeMute',
  VolumeDown: 'AudioVolumeDown',
  VolumeUp: 'AudioVolumeUp',
};

const PRINT_SCREEN_MAKE = [0xe0, 0x2a, 0xe0, 0x37] as const;
const PRINT_SCREEN_BREAK = [0xe0, 0xb7, 0xe0, 0xaa] as const;
const PAUSE_MAKE = [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5] as const;

/** Every KeyboardEvent.code this map knows (aliases excluded). */
export const KNOWN_CODES: readonly string[] = [
  ...Object.keys(BASIC),
  ...Object.keys(EXTENDED),
  'PrintScreen',
  'Pause',
];

/**
 * Scancodes (set 1) to send for a key press (`down`) or release. Returns null for a code this
 * map does not know. Pause yields its whole sequence on press and an empty array on release.
 */
export function scancodesFor(code: string, down: boolean): number[] | null {
  const name = ALIASES[code] ?? code;
  const basic = BASIC[name];
  if (basic !== undefined) return [down ? basic : basic | 0x80];
  const ext = EXTENDED[name];
  if (ext !== undefined) return [0xe0, down ? ext : ext | 0x80];
  if (name === 'PrintScreen') return down ? [...PRINT_SCREEN_MAKE] : [...PRINT_SCREEN_BREAK];
  if (name === 'Pause') return down ? [...PAUSE_MAKE] : [];
  return null;
}

/** True for a modifier key (released first by releaseAll bookkeeping, useful for UIs). */
export function isModifier(code: string): boolean {
  return /^(Shift|Control|Alt|Meta|OS)(Left|Right)$/.test(code);
}
