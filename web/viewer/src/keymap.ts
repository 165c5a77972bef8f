// Text to key presses for the guest's US layout (clipboard send). Only printable ASCII, Tab and
// newline can be typed; anything else is skipped and counted.
export interface KeyStroke {
  code: string;
  shift: boolean;
}

const UNSHIFTED: Record<string, string> = {
  '`': 'Backquote',
  '-': 'Minus',
  '=': 'Equal',
  '[': 'BracketLeft',
  ']': 'BracketRight',
  '\\': 'Backslash',
  ';': 'Semicolon',
  "'": 'Quote',
  ',': 'Comma',
  '.': 'Period',
  '/': 'Slash',
  ' ': 'Space',
  '\t': 'Tab',
  '\n': 'Enter',
};
const SHIFTED: Record<string, string> = {
  '~': 'Backquote',
  '!': 'Digit1',
  '@': 'Digit2',
  '#': 'Digit3',
  $: 'Digit4',
  '%': 'Digit5',
  '^': 'Digit6',
  '&': 'Digit7',
  '*': 'Digit8',
  '(': 'Digit9',
  ')': 'Digit0',
  _: 'Minus',
  '+': 'Equal',
  '{': 'BracketLeft',
  '}': 'BracketRight',
  '|': 'Backslash',
  ':': 'Semicolon',
  '"': 'Quote',
  '<': 'Comma',
  '>': 'Period',
  '?': 'Slash',
};

export function strokeFor(ch: string): KeyStroke | null {
  if (ch >= 'a' && ch <= 'z') return { code: `Key${ch.toUpperCase()}`, shift: false };
  if (ch >= 'A' && ch <= 'Z') return { code: `Key${ch}`, shift: true };
  if (ch >= '0' && ch <= '9') return { code: `Digit${ch}`, shift: false };
  if (UNSHIFTED[ch]) return { code: UNSHIFTED[ch], shift: false };
  if (SHIFTED[ch]) return { code: SHIFTED[ch], shift: true };
  return null;
}

/** Key strokes for a text; `skipped` counts characters the US layout cannot produce. */
export function textToStrokes(text: string): { strokes: KeyStroke[]; skipped: number } {
  const strokes: KeyStroke[] = [];
  let skipped = 0;
  for (const ch of text.replace(/\r\n?/g, '\n')) {
    const s = strokeFor(ch);
    if (s) strokes.push(s);
    else skipped++;
  }
  return { strokes, skipped };
}
