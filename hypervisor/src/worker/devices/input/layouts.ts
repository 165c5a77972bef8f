// Characters to key strokes for the guest's X keyboard layouts (xkeyboard-config's "basic"
// variants, and us as "altgr-intl", with the pc105 model, as the guest agent sets them). A viewer sends the character a
// key event carried; the input device types it with the shift and AltGr state the guest's
// layout needs for it, or through a dead key when the layout composes it (the guest ships the
// dead-key part of libX11's Compose table). Only the levels people type with are listed: the
// base, Shift, AltGr and AltGr+Shift characters of the printable keys.
import { KEYBOARD_LAYOUTS, type KeyboardLayout } from '../../../api/protocol.ts';

/** A dead key, by its X keysym name; it composes with the next key (Compose table). */
type DeadKey = 'dead_grave' | 'dead_acute' | 'dead_circumflex' | 'dead_tilde' | 'dead_diaeresis';
/** A level's symbol: one character, or a dead key. */
type KeySymbol = string;
/** [base, Shift, AltGr, AltGr+Shift] per KeyboardEvent.code; '' where the level is unused. */
type KeyTable = Record<string, readonly KeySymbol[]>;

interface DeadKeyRule {
  /** Combining mark: dead key + letter is the letter with this mark (when Unicode has it). */
  combining: string;
  /** Dead key + space, and dead key twice (from libX11's Compose table). */
  withSpace: string;
  twice: string;
}

const DEAD_KEYS: Record<DeadKey, DeadKeyRule> = {
  dead_grave: { combining: '\u0300', withSpace: '`', twice: '`' },
  dead_acute: { combining: '\u0301', withSpace: "'", twice: '\u00b4' },
  dead_circumflex: { combining: '\u0302', withSpace: '^', twice: '^' },
  dead_tilde: { combining: '\u0303', withSpace: '~', twice: '~' },
  dead_diaeresis: { combining: '\u0308', withSpace: '"', twice: '\u00a8' },
};

function isDeadKey(symbol: KeySymbol): symbol is DeadKey {
  return Object.hasOwn(DEAD_KEYS, symbol);
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function letters(except: Record<string, string> = {}): KeyTable {
  const table: Record<string, string[]> = {};
  for (const l of LETTERS) {
    const code = `Key${l.toUpperCase()}`;
    const c = except[code] ?? l;
    table[code] = [c, c.toUpperCase()];
  }
  return table;
}

/** Keys every layout shares: the space bar. Tab and Enter stay physical keys. */
const COMMON: KeyTable = { Space: [' ', ' '] };

const US: KeyTable = {
  ...COMMON,
  ...letters(),
  Backquote: ['`', '~'],
  Digit1: ['1', '!'],
  Digit2: ['2', '@'],
  Digit3: ['3', '#'],
  Digit4: ['4', '$'],
  Digit5: ['5', '%'],
  Digit6: ['6', '^'],
  Digit7: ['7', '&'],
  Digit8: ['8', '*'],
  Digit9: ['9', '('],
  Digit0: ['0', ')'],
  Minus: ['-', '_'],
  Equal: ['=', '+'],
  BracketLeft: ['[', '{'],
  BracketRight: [']', '}'],
  Backslash: ['\\', '|'],
  Semicolon: [';', ':'],
  Quote: ["'", '"'],
  Comma: [',', '<'],
  Period: ['.', '>'],
  Slash: ['/', '?'],
};

// us(altgr-intl): the US keys, plus accented letters and dead keys on AltGr, so a US desktop
// can still type the ü or é a phone keyboard or a paste sends.
const US_INTL: KeyTable = {
  ...US,
  Backquote: ['`', '~', 'dead_grave', 'dead_tilde'],
  Quote: ["'", '"', 'dead_acute', 'dead_diaeresis'],
  Digit1: ['1', '!', '\u00b9', '\u00a1'],
  Digit2: ['2', '@', '\u00b2'],
  Digit3: ['3', '#', '\u00b3'],
  Digit4: ['4', '$', '\u00a4', '\u00a3'],
  Digit5: ['5', '%', '\u20ac'],
  Digit6: ['6', '^', 'dead_circumflex', '\u00bc'],
  Digit7: ['7', '&', '', '\u00bd'],
  Digit8: ['8', '*', '', '\u00be'],
  Minus: ['-', '_', '\u00a5'],
  Equal: ['=', '+', '\u00d7', '\u00f7'],
  KeyQ: ['q', 'Q', '\u00e4', '\u00c4'],
  KeyW: ['w', 'W', '\u00e5', '\u00c5'],
  KeyE: ['e', 'E', '\u00e9', '\u00c9'],
  KeyR: ['r', 'R', '\u00eb', '\u00cb'],
  KeyT: ['t', 'T', '\u00fe', '\u00de'],
  KeyY: ['y', 'Y', '\u00fc', '\u00dc'],
  KeyU: ['u', 'U', '\u00fa', '\u00da'],
  KeyI: ['i', 'I', '\u00ed', '\u00cd'],
  KeyO: ['o', 'O', '\u00f3', '\u00d3'],
  KeyP: ['p', 'P', '\u00f6', '\u00d6'],
  BracketLeft: ['[', '{', '\u00ab'],
  BracketRight: [']', '}', '\u00bb'],
  KeyA: ['a', 'A', '\u00e1', '\u00c1'],
  KeyS: ['s', 'S', '\u00df', '\u00a7'],
  KeyD: ['d', 'D', '\u00f0', '\u00d0'],
  KeyJ: ['j', 'J', '\u00ef', '\u00cf'],
  KeyL: ['l', 'L', '\u00f8', '\u00d8'],
  Semicolon: [';', ':', '\u00b6', '\u00b0'],
  KeyZ: ['z', 'Z', '\u00e6', '\u00c6'],
  KeyC: ['c', 'C', '\u00a9', '\u00a2'],
  KeyN: ['n', 'N', '\u00f1', '\u00d1'],
  KeyM: ['m', 'M', '\u00b5', '\u00b5'],
  Comma: [',', '<', '\u00e7', '\u00c7'],
  Slash: ['/', '?', '\u00bf'],
  Backslash: ['\\', '|', '\u00ac', '\u00a6'],
  IntlBackslash: ['\\', '|', '\\', '|'],
};

const GB: KeyTable = {
  ...US,
  Backquote: ['`', '\u00ac', '|'],
  Digit2: ['2', '"'],
  Digit3: ['3', '\u00a3'],
  Digit4: ['4', '$', '\u20ac'],
  Quote: ["'", '@', 'dead_circumflex'],
  Backslash: ['#', '~', 'dead_grave'],
  IntlBackslash: ['\\', '|', '|'],
};

const DE: KeyTable = {
  ...COMMON,
  ...letters({ KeyY: 'z', KeyZ: 'y' }),
  KeyQ: ['q', 'Q', '@'],
  KeyE: ['e', 'E', '\u20ac'],
  KeyM: ['m', 'M', '\u00b5'],
  Backquote: ['dead_circumflex', '\u00b0'],
  Digit1: ['1', '!', '\u00b9'],
  Digit2: ['2', '"', '\u00b2'],
  Digit3: ['3', '\u00a7', '\u00b3'],
  Digit4: ['4', '$'],
  Digit5: ['5', '%'],
  Digit6: ['6', '&'],
  Digit7: ['7', '/', '{'],
  Digit8: ['8', '(', '['],
  Digit9: ['9', ')', ']'],
  Digit0: ['0', '=', '}'],
  Minus: ['\u00df', '?', '\\'],
  Equal: ['dead_acute', 'dead_grave'],
  BracketLeft: ['\u00fc', '\u00dc', 'dead_diaeresis'],
  BracketRight: ['+', '*', '~'],
  Semicolon: ['\u00f6', '\u00d6'],
  Quote: ['\u00e4', '\u00c4', 'dead_circumflex'],
  Backslash: ['#', "'"],
  Comma: [',', ';', '\u00b7'],
  Period: ['.', ':', '\u2026'],
  Slash: ['-', '_', '\u2013', '\u2014'],
  IntlBackslash: ['<', '>', '|'],
};

const FR: KeyTable = {
  ...COMMON,
  ...letters({ KeyQ: 'a', KeyA: 'q', KeyW: 'z', KeyZ: 'w' }),
  KeyQ: ['a', 'A', '\u00e6', '\u00c6'],
  KeyA: ['q', 'Q', '@'],
  KeyW: ['z', 'Z', '\u00ab', '<'],
  KeyE: ['e', 'E', '\u20ac', '\u00a2'],
  Backquote: ['\u00b2', '~'],
  Digit1: ['&', '1', '\u00b9', '\u00a1'],
  Digit2: ['\u00e9', '2', '~'],
  Digit3: ['"', '3', '#', '\u00a3'],
  Digit4: ["'", '4', '{', '$'],
  Digit5: ['(', '5', '['],
  Digit6: ['-', '6', '|'],
  Digit7: ['\u00e8', '7', '`'],
  Digit8: ['_', '8', '\\'],
  Digit9: ['\u00e7', '9', '^', '\u00b1'],
  Digit0: ['\u00e0', '0', '@', '\u00b0'],
  Minus: [')', '\u00b0', ']', '\u00bf'],
  Equal: ['=', '+', '}'],
  BracketLeft: ['dead_circumflex', 'dead_diaeresis', 'dead_diaeresis'],
  BracketRight: ['$', '\u00a3', '\u00a4'],
  Semicolon: ['m', 'M', '\u00b5', '\u00ba'],
  Quote: ['\u00f9', '%', 'dead_circumflex'],
  Backslash: ['*', '\u00b5', 'dead_grave'],
  KeyM: [',', '?', 'dead_acute'],
  Comma: [';', '.', '\u2022', '\u00d7'],
  Period: [':', '/', '\u00b7', '\u00f7'],
  Slash: ['!', '\u00a7'],
  IntlBackslash: ['<', '>', '|'],
};

const TABLES: Record<KeyboardLayout, KeyTable> = { us: US_INTL, de: DE, fr: FR, gb: GB };

/** One key press on the guest: a key with the Shift and AltGr state it needs. */
export interface Stroke {
  code: string;
  shift: boolean;
  altGr: boolean;
}

/** Strokes per character: one key, or a dead key and then the key it composes with. */
export type CharMap = ReadonlyMap<string, readonly Stroke[]>;

function buildCharMap(table: KeyTable): CharMap {
  const direct = new Map<string, Stroke>();
  const dead = new Map<DeadKey, Stroke>();
  // Fewer modifiers first, so '1' is the plain key even where AltGr+Shift also gives it.
  for (const level of [0, 1, 2, 3]) {
    for (const [code, symbols] of Object.entries(table)) {
      const symbol = symbols[level];
      if (!symbol) continue;
      const stroke = { code, shift: level % 2 === 1, altGr: level >= 2 };
      if (isDeadKey(symbol)) {
        if (!dead.has(symbol)) dead.set(symbol, stroke);
      } else if (!direct.has(symbol)) {
        direct.set(symbol, stroke);
      }
    }
  }
  const map = new Map<string, Stroke[]>();
  for (const [ch, stroke] of direct) map.set(ch, [stroke]);
  const space = direct.get(' ');
  for (const [name, deadStroke] of dead) {
    const rule = DEAD_KEYS[name];
    const add = (ch: string, then: Stroke | undefined) => {
      if (then && !map.has(ch)) map.set(ch, [deadStroke, then]);
    };
    add(rule.withSpace, space);
    add(rule.twice, deadStroke);
    for (const base of LETTERS + LETTERS.toUpperCase()) {
      const composed = (base + rule.combining).normalize('NFC');
      if ([...composed].length === 1) add(composed, direct.get(base));
    }
  }
  return map;
}

const CHAR_MAPS = new Map<KeyboardLayout | null, CharMap>([
  ...KEYBOARD_LAYOUTS.map((layout) => [layout, buildCharMap(TABLES[layout])] as const),
  // Before the agent set a layout, X runs its default: plain us, printable ASCII only.
  [null, buildCharMap(US)],
]);

/**
 * How to type `ch` on the layout (null: X's default before the agent set one): one or two
 * strokes, or null when the layout cannot.
 */
export function strokesFor(layout: KeyboardLayout | null, ch: string): readonly Stroke[] | null {
  return CHAR_MAPS.get(layout)?.get(ch) ?? null;
}

/** Every character the layout can type (for tests and documentation). */
export function typableChars(layout: KeyboardLayout | null): string[] {
  return [...(CHAR_MAPS.get(layout)?.keys() ?? [])];
}
