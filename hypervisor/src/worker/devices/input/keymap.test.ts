import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KNOWN_CODES, scancodesFor } from './keymap.ts';

const REQUIRED: Record<string, number[]> = {
  Escape: [0x01],
  Digit1: [0x02],
  Digit0: [0x0b],
  Minus: [0x0c],
  Equal: [0x0d],
  Backspace: [0x0e],
  Tab: [0x0f],
  KeyQ: [0x10],
  KeyP: [0x19],
  BracketLeft: [0x1a],
  BracketRight: [0x1b],
  Enter: [0x1c],
  ControlLeft: [0x1d],
  KeyA: [0x1e],
  KeyL: [0x26],
  Semicolon: [0x27],
  Quote: [0x28],
  Backquote: [0x29],
  ShiftLeft: [0x2a],
  Backslash: [0x2b],
  KeyZ: [0x2c],
  KeyM: [0x32],
  Comma: [0x33],
  Period: [0x34],
  Slash: [0x35],
  ShiftRight: [0x36],
  NumpadMultiply: [0x37],
  AltLeft: [0x38],
  Space: [0x39],
  CapsLock: [0x3a],
  F1: [0x3b],
  F10: [0x44],
  NumLock: [0x45],
  ScrollLock: [0x46],
  Numpad7: [0x47],
  Numpad8: [0x48],
  Numpad9: [0x49],
  NumpadSubtract: [0x4a],
  Numpad4: [0x4b],
  Numpad5: [0x4c],
  Numpad6: [0x4d],
  NumpadAdd: [0x4e],
  Numpad1: [0x4f],
  Numpad2: [0x50],
  Numpad3: [0x51],
  Numpad0: [0x52],
  NumpadDecimal: [0x53],
  IntlBackslash: [0x56],
  F11: [0x57],
  F12: [0x58],
  IntlRo: [0x73],
  IntlYen: [0x7d],
  ControlRight: [0xe0, 0x1d],
  AltRight: [0xe0, 0x38],
  MetaLeft: [0xe0, 0x5b],
  MetaRight: [0xe0, 0x5c],
  ContextMenu: [0xe0, 0x5d],
  NumpadDivide: [0xe0, 0x35],
  NumpadEnter: [0xe0, 0x1c],
  Insert: [0xe0, 0x52],
  Delete: [0xe0, 0x53],
  Home: [0xe0, 0x47],
  End: [0xe0, 0x4f],
  PageUp: [0xe0, 0x49],
  PageDown: [0xe0, 0x51],
  ArrowUp: [0xe0, 0x48],
  ArrowDown: [0xe0, 0x50],
  ArrowLeft: [0xe0, 0x4b],
  ArrowRight: [0xe0, 0x4d],
};

test('every required code maps to its make code', () => {
  for (const [code, make] of Object.entries(REQUIRED)) {
    assert.deepEqual(scancodesFor(code, true), make, code);
  }
});

test('all letters, digits and F-keys map', () => {
  for (let i = 0; i < 26; i++) {
    const code = `Key${String.fromCharCode(65 + i)}`;
    const m = scancodesFor(code, true);
    assert.ok(m && m.length === 1, code);
  }
  for (let d = 0; d <= 9; d++) assert.ok(scancodesFor(`Digit${d}`, true), `Digit${d}`);
  const f = [0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58];
  for (let n = 1; n <= 12; n++) assert.deepEqual(scancodesFor(`F${n}`, true), [f[n - 1]]);
});

test('letters follow the QWERTY scancode rows', () => {
  const rows: [string, number][] = [
    ['QWERTYUIOP', 0x10],
    ['ASDFGHJKL', 0x1e],
    ['ZXCVBNM', 0x2c],
  ];
  for (const [letters, start] of rows) {
    [...letters].forEach((ch, i) =>
      assert.deepEqual(scancodesFor(`Key${ch}`, true), [start + i], ch),
    );
  }
});

test('break = make | 0x80, after the E0 prefix', () => {
  for (const code of KNOWN_CODES) {
    if (code === 'PrintScreen' || code === 'Pause') continue;
    const make = scancodesFor(code, true)!;
    const brk = scancodesFor(code, false)!;
    assert.equal(brk.length, make.length, code);
    if (make.length === 2) {
      assert.equal(make[0], 0xe0, code);
      assert.equal(brk[0], 0xe0, code);
    }
    assert.equal(brk.at(-1), make.at(-1)! | 0x80, code);
    assert.ok(make.at(-1)! < 0x80, `${code} make code has bit 7 clear`);
  }
});

test('make codes are unique', () => {
  const seen = new Map<string, string>();
  for (const code of KNOWN_CODES) {
    const key = scancodesFor(code, true)!.join(',');
    assert.ok(!seen.has(key), `${code} collides with ${seen.get(key)}`);
    seen.set(key, code);
  }
});

test('PrintScreen and Pause sequences', () => {
  assert.deepEqual(scancodesFor('PrintScreen', true), [0xe0, 0x2a, 0xe0, 0x37]);
  assert.deepEqual(scancodesFor('PrintScreen', false), [0xe0, 0xb7, 0xe0, 0xaa]);
  assert.deepEqual(scancodesFor('Pause', true), [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
  assert.deepEqual(scancodesFor('Pause', false), []);
});

test('unknown codes return null; legacy aliases map', () => {
  assert.equal(scancodesFor('NoSuchKey', true), null);
  assert.equal(scancodesFor('', false), null);
  assert.equal(scancodesFor('keya', true), null);
  assert.deepEqual(scancodesFor('OSLeft', true), [0xe0, 0x5b]);
});

test('returned arrays are fresh', () => {
  const a = scancodesFor('PrintScreen', true)!;
  a.push(1);
  assert.deepEqual(scancodesFor('PrintScreen', true), [0xe0, 0x2a, 0xe0, 0x37]);
});
