// Typing ASCII into a guest terminal as key codes on a US layout (the tests' shell lines).
import type { TestHypervisor } from './harness.ts';

const SHIFTED: Record<string, string> = {
  '~': 'Backquote',
  '|': 'Backslash',
  '"': 'Quote',
  '>': 'Period',
  _: 'Minus',
  '*': 'Digit8',
};
const PLAIN: Record<string, string> = {
  ' ': 'Space',
  '/': 'Slash',
  '\\': 'Backslash',
  "'": 'Quote',
  '-': 'Minus',
  '.': 'Period',
  ';': 'Semicolon',
  '\n': 'Enter',
};

export interface KeyStroke {
  code: string;
  shift: boolean;
}

/** The key strokes for `text`; throws on a character this map cannot type. */
export function strokes(text: string): KeyStroke[] {
  return [...text].map((ch) => {
    if (/[a-z]/.test(ch)) return { code: `Key${ch.toUpperCase()}`, shift: false };
    if (/[A-Z]/.test(ch)) return { code: `Key${ch}`, shift: true };
    if (/[0-9]/.test(ch)) return { code: `Digit${ch}`, shift: false };
    if (PLAIN[ch]) return { code: PLAIN[ch], shift: false };
    if (SHIFTED[ch]) return { code: SHIFTED[ch], shift: true };
    throw new Error(`cannot type ${JSON.stringify(ch)}`);
  });
}

export function typeStrokes(hv: TestHypervisor, id: string, keys: KeyStroke[]): void {
  for (const { code, shift } of keys) {
    if (shift) hv.client.key(id, 'ShiftLeft', true);
    hv.client.key(id, code, true);
    hv.client.key(id, code, false);
    if (shift) hv.client.key(id, 'ShiftLeft', false);
  }
}

/** Types `line` and Enter. */
export function typeLine(hv: TestHypervisor, id: string, line: string): void {
  typeStrokes(hv, id, strokes(`${line}\n`));
}
