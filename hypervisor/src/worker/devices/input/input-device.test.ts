import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputDevice, type V86InputLike } from './input-device.ts';

type Call = ['scancodes', number[]] | ['bus', string, unknown];

function fakeEmulator(): V86InputLike & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    keyboard_send_scancodes(codes) {
      calls.push(['scancodes', [...codes]]);
    },
    bus: {
      send(event, data) {
        calls.push(['bus', event, data]);
      },
    },
  };
}

test('key sends make and break codes', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  assert.equal(input.key('KeyA', true), true);
  assert.equal(input.key('KeyA', false), true);
  assert.equal(input.key('ArrowUp', true), true);
  assert.deepEqual(emu.calls, [
    ['scancodes', [0x1e]],
    ['scancodes', [0x9e]],
    ['scancodes', [0xe0, 0x48]],
  ]);
});

test('unknown code returns false and sends nothing', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  assert.equal(input.key('Bogus', true), false);
  assert.deepEqual(emu.calls, []);
  assert.deepEqual(input.heldKeys(), []);
});

test('Pause release sends nothing and is never held', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.key('Pause', true);
  input.key('Pause', false);
  assert.deepEqual(emu.calls, [['scancodes', [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]]]);
  assert.deepEqual(input.heldKeys(), []);
});

test('releaseAll releases held keys in reverse order, once', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.key('ControlLeft', true);
  input.key('AltRight', true);
  input.key('KeyQ', true);
  input.key('KeyQ', false);
  input.key('ShiftLeft', true);
  assert.deepEqual(input.heldKeys(), ['ControlLeft', 'AltRight', 'ShiftLeft']);
  emu.calls.length = 0;
  input.releaseAll();
  assert.deepEqual(emu.calls, [['scancodes', [0xaa, 0xe0, 0xb8, 0x9d]]]);
  emu.calls.length = 0;
  input.releaseAll();
  assert.deepEqual(emu.calls, []);
});

test('releaseAll also releases mouse buttons', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.pointer(10, 10, 1, 100, 100);
  emu.calls.length = 0;
  input.releaseAll();
  assert.deepEqual(emu.calls, [['bus', 'mouse-click', [false, false, false]]]);
});

test('sendCtrlAltDel', () => {
  const emu = fakeEmulator();
  new InputDevice(emu).sendCtrlAltDel();
  assert.deepEqual(emu.calls, [['scancodes', [0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]]]);
});

test('pointer moves absolutely and clicks only on button changes', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.pointer(100, 50, 0, 1024, 768);
  input.pointer(100, 50, 0, 1024, 768); // no change: nothing
  input.pointer(100, 50, 1, 1024, 768); // left down
  input.pointer(120, 60, 1, 1024, 768); // drag: move only
  input.pointer(120, 60, 1 | 2 | 4, 1024, 768); // all down
  input.pointer(120, 60, 0, 1024, 768); // all up
  input.pointer(5000, -3, 0, 1024, 768); // clamped
  assert.deepEqual(emu.calls, [
    ['bus', 'mouse-absolute', [100, 50, 1023, 767]],
    ['bus', 'mouse-delta', [1, 0]],
    ['bus', 'mouse-click', [true, false, false]],
    ['bus', 'mouse-absolute', [120, 60, 1023, 767]],
    ['bus', 'mouse-delta', [-1, 0]],
    ['bus', 'mouse-click', [true, true, true]],
    ['bus', 'mouse-click', [false, false, false]],
    ['bus', 'mouse-absolute', [1023, 0, 1023, 767]],
    ['bus', 'mouse-delta', [1, 0]],
  ]);
});

test('every pure move raises a PS/2 packet; a move with a button change relies on the click', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.pointer(10, 10, 1, 100, 100); // move and press at once: the click raises the interrupt
  for (let x = 11; x <= 14; x++) input.pointer(x, 10, 1, 100, 100); // drag
  const events = emu.calls.map((call) => call[1]);
  assert.deepEqual(events, [
    'mouse-absolute',
    'mouse-click',
    ...Array<string[]>(4).fill(['mouse-absolute', 'mouse-delta']).flat(),
  ]);
  // The nudges alternate, so a guest reading plain PS/2 deltas does not drift.
  const net = emu.calls
    .filter((call) => call[1] === 'mouse-delta')
    .reduce((sum, call) => sum + (call[2] as number[])[0]!, 0);
  assert.equal(net, 0);
});

test('right and middle buttons map to v86 [left, middle, right]', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.pointer(0, 0, 2, 640, 480);
  input.pointer(0, 0, 4, 640, 480);
  assert.deepEqual(emu.calls.slice(1), [
    ['bus', 'mouse-click', [false, false, true]],
    ['bus', 'mouse-click', [false, true, false]],
  ]);
});

test('wheel: positive dy (down) is a negative v86 wheel value', () => {
  const emu = fakeEmulator();
  const input = new InputDevice(emu);
  input.wheel(0, 2);
  input.wheel(0, -1);
  input.wheel(3, 0);
  assert.deepEqual(emu.calls, [
    ['bus', 'mouse-wheel', [-2, 0]],
    ['bus', 'mouse-wheel', [1, 0]],
  ]);
});

test('planChar adds Shift for a shifted character and releases it after', () => {
  const input = new InputDevice(fakeEmulator());
  assert.deepEqual(input.planChar('>'), [
    { code: 'ShiftLeft', down: true },
    { code: 'Period', down: true },
    { code: 'Period', down: false },
    { code: 'ShiftLeft', down: false },
  ]);
  assert.deepEqual(input.planChar('a'), [
    { code: 'KeyA', down: true },
    { code: 'KeyA', down: false },
  ]);
  assert.equal(input.planChar('ü'), null, "X's default layout has no ü");
});

test('planChar lets go of a held Shift and AltGr the character does not need, then restores them', () => {
  const input = new InputDevice(fakeEmulator());
  input.key('ShiftRight', true);
  input.key('AltRight', true);
  assert.deepEqual(input.planChar('1'), [
    { code: 'ShiftRight', down: false },
    { code: 'AltRight', down: false },
    { code: 'Digit1', down: true },
    { code: 'Digit1', down: false },
    { code: 'AltRight', down: true },
    { code: 'ShiftRight', down: true },
  ]);
});

test('planChar follows the layout: AltGr on German, a dead key for ê', () => {
  const input = new InputDevice(fakeEmulator());
  input.setLayout('de');
  assert.deepEqual(input.planChar('@'), [
    { code: 'AltRight', down: true },
    { code: 'KeyQ', down: true },
    { code: 'KeyQ', down: false },
    { code: 'AltRight', down: false },
  ]);
  assert.deepEqual(input.planChar('ê'), [
    { code: 'Backquote', down: true },
    { code: 'Backquote', down: false },
    { code: 'KeyE', down: true },
    { code: 'KeyE', down: false },
  ]);
});

test('planChar inverts Shift for letters while Caps Lock is on', () => {
  const input = new InputDevice(fakeEmulator());
  input.key('CapsLock', true);
  input.key('CapsLock', false);
  assert.deepEqual(input.planChar('A'), [
    { code: 'KeyA', down: true },
    { code: 'KeyA', down: false },
  ]);
  assert.equal(input.planChar('a')?.[0]?.code, 'ShiftLeft');
  assert.equal(input.planChar('1')?.[0]?.code, 'Digit1', 'Caps Lock does not shift digits');
});
