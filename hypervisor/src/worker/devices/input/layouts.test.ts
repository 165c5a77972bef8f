import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KEYBOARD_LAYOUTS } from '../../../api/protocol.ts';
import { strokesFor, typableChars } from './layouts.ts';

const key = (code: string, shift = false, altGr = false) => ({ code, shift, altGr });

test('every layout types printable ASCII letters, digits and the space', () => {
  for (const layout of KEYBOARD_LAYOUTS) {
    for (const ch of 'abcxyzABCXYZ0123456789 ') {
      assert.ok(strokesFor(layout, ch), `${layout} ${JSON.stringify(ch)}`);
    }
  }
});

test('us and gb type every printable ASCII character; de and fr too', () => {
  for (const layout of KEYBOARD_LAYOUTS) {
    for (let c = 0x20; c < 0x7f; c++) {
      const ch = String.fromCharCode(c);
      assert.ok(strokesFor(layout, ch), `${layout} cannot type ${JSON.stringify(ch)}`);
    }
  }
});

test('shifted characters need Shift; US punctuation sits where a US keyboard has it', () => {
  assert.deepEqual(strokesFor('us', '>'), [key('Period', true)]);
  assert.deepEqual(strokesFor('us', '|'), [key('Backslash', true)]);
  assert.deepEqual(strokesFor('us', '&'), [key('Digit7', true)]);
  assert.deepEqual(strokesFor('us', 'D'), [key('KeyD', true)]);
});

test('us is altgr-intl: accented letters on AltGr, others through its AltGr dead keys', () => {
  assert.deepEqual(strokesFor('us', 'ü'), [key('KeyY', false, true)]);
  assert.deepEqual(strokesFor('us', 'É'), [key('KeyE', true, true)]);
  assert.deepEqual(strokesFor('us', 'ê'), [key('Digit6', false, true), key('KeyE')]);
  assert.deepEqual(strokesFor('us', '€'), [key('Digit5', false, true)]);
});

test("before a layout is set, only X's default plain us is used: ASCII, no AltGr", () => {
  assert.deepEqual(strokesFor(null, '>'), [key('Period', true)]);
  assert.equal(strokesFor(null, 'ü'), null);
  for (const ch of typableChars(null)) assert.ok(ch.charCodeAt(0) < 0x7f, ch);
});

test('German: AltGr for @ and |, umlauts on their own keys, y and z swapped', () => {
  assert.deepEqual(strokesFor('de', '@'), [key('KeyQ', false, true)]);
  assert.deepEqual(strokesFor('de', '|'), [key('IntlBackslash', false, true)]);
  assert.deepEqual(strokesFor('de', 'ä'), [key('Quote')]);
  assert.deepEqual(strokesFor('de', 'Ü'), [key('BracketLeft', true)]);
  assert.deepEqual(strokesFor('de', '>'), [key('IntlBackslash', true)]);
  assert.deepEqual(strokesFor('de', 'z'), [key('KeyY')]);
  assert.deepEqual(strokesFor('de', '&'), [key('Digit6', true)]);
});

test('dead keys compose: ^ and ê on German, ` with space, ´ twice', () => {
  assert.deepEqual(strokesFor('de', 'ê'), [key('Backquote'), key('KeyE')]);
  assert.deepEqual(strokesFor('de', '^'), [key('Backquote'), key('Space')]);
  assert.deepEqual(strokesFor('de', '`'), [key('Equal', true), key('Space')]);
  assert.deepEqual(strokesFor('de', 'É'), [key('Equal'), key('KeyE', true)]);
  assert.deepEqual(strokesFor('fr', 'ô'), [key('BracketLeft'), key('KeyO')]);
  assert.deepEqual(strokesFor('fr', 'ë'), [key('BracketLeft', true), key('KeyE')]);
});

test('French AZERTY: digits need Shift, a and q swapped', () => {
  assert.deepEqual(strokesFor('fr', '1'), [key('Digit1', true)]);
  assert.deepEqual(strokesFor('fr', 'a'), [key('KeyQ')]);
  assert.deepEqual(strokesFor('fr', 'é'), [key('Digit2')]);
  assert.deepEqual(strokesFor('fr', '@'), [key('KeyA', false, true)]);
  assert.deepEqual(strokesFor('fr', 'm'), [key('Semicolon')]);
});

test('UK: " is Shift+2, @ is Shift+quote, £ and €', () => {
  assert.deepEqual(strokesFor('gb', '"'), [key('Digit2', true)]);
  assert.deepEqual(strokesFor('gb', '@'), [key('Quote', true)]);
  assert.deepEqual(strokesFor('gb', '£'), [key('Digit3', true)]);
  assert.deepEqual(strokesFor('gb', '€'), [key('Digit4', false, true)]);
  assert.deepEqual(strokesFor('gb', '\\'), [key('IntlBackslash')]);
});

test('every dead-key composition used is in the Compose table the guest ships', () => {
  const compose = readFileSync(
    fileURLToPath(new URL('../../../../guest/common/x11-compose-dead-keys', import.meta.url)),
    'utf8',
  );
  const results = new Set(
    [...compose.matchAll(/^<dead_\w+> <\w+>\s*:\s*"((?:\\"|[^"])+)"/gm)].map((m) =>
      m[1]!.replace(/\\"/g, '"'),
    ),
  );
  for (const layout of [...KEYBOARD_LAYOUTS, null]) {
    for (const ch of typableChars(layout)) {
      if (strokesFor(layout, ch)!.length === 2) {
        assert.ok(results.has(ch), `${layout}: ${ch} is not composed by the guest`);
      }
    }
  }
});
