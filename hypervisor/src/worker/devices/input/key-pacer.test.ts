import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyPacer, type GuestProgress } from './key-pacer.ts';

const at = (slices: number, idleSlice: number, instructions: number): GuestProgress => ({
  slices,
  idleSlice,
  instructions,
});

test('the first key goes at once', () => {
  assert.equal(new KeyPacer(1000).ready(at(0, -1, 0)), true);
});

test('the next key waits while the guest has not run since the last one', () => {
  const pacer = new KeyPacer(1000);
  pacer.sent(at(5, 4, 100));
  // The guest was idle before the key and has not run a slice since (paused or starved).
  assert.equal(pacer.ready(at(5, 4, 100)), false);
  // It ran but is still busy, short of the instruction allowance.
  assert.equal(pacer.ready(at(7, 4, 900)), false);
});

test('the next key goes once a slice after the last key ended idle', () => {
  const pacer = new KeyPacer(1000);
  pacer.sent(at(5, 5, 100));
  assert.equal(pacer.ready(at(6, 6, 150)), true);
});

test('a busy guest gets the next key after enough instructions, across the counter wrapping', () => {
  const pacer = new KeyPacer(1000);
  pacer.sent(at(5, 2, 0xffff_fe00));
  assert.equal(pacer.ready(at(9, 2, 0x0000_0100)), false);
  assert.equal(pacer.ready(at(9, 2, 0x0000_0300)), true);
});

test('after a reset the next key goes at once', () => {
  const pacer = new KeyPacer(1000);
  pacer.sent(at(5, 4, 100));
  pacer.reset();
  assert.equal(pacer.ready(at(5, 4, 100)), true);
});

test('a busy guest that never idles gets a few presses, then one per longer stretch', () => {
  const pacer = new KeyPacer(1000, 2, 50_000);
  pacer.sent(at(5, 2, 0));
  pacer.sent(at(5, 2, 10), false);
  assert.equal(pacer.ready(at(8, 2, 1010)), true);
  pacer.sent(at(8, 2, 1010));
  pacer.sent(at(8, 2, 1020), false);
  // Two presses wait unread (Xorg busy): 1000 instructions no longer suffice.
  assert.equal(pacer.ready(at(12, 2, 2020)), false);
  assert.equal(pacer.ready(at(40, 2, 51_020)), true);
});

test('a slice that ends idle confirms the presses before it', () => {
  const pacer = new KeyPacer(1000, 2, 50_000);
  pacer.sent(at(5, 2, 0));
  pacer.sent(at(6, 2, 1000));
  assert.equal(pacer.ready(at(7, 2, 2000)), false);
  // The guest went idle after the last press: everything before was read.
  assert.equal(pacer.ready(at(8, 7, 2100)), true);
  pacer.sent(at(8, 7, 2100));
  // One press unconfirmed again: the short allowance applies.
  assert.equal(pacer.ready(at(9, 7, 3100)), true);
});
