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
