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

test('a held pacer lets no press go until released and the guest has settled', () => {
  const pacer = new KeyPacer(1000, 50_000);
  pacer.hold();
  assert.equal(pacer.ready(at(9, 9, 100)), false);
  pacer.release(at(10, 4, 200));
  // The guest goes on reconfiguring after the release, busy.
  assert.equal(pacer.ready(at(14, 4, 20_000)), false);
  // A slice after the release ended idle: X has applied the change.
  assert.equal(pacer.ready(at(15, 15, 21_000)), true);
});

test('a guest that stays busy after a hold gets its keys after the settle allowance', () => {
  const pacer = new KeyPacer(1000, 50_000);
  pacer.hold();
  pacer.release(at(10, 4, 200));
  assert.equal(pacer.ready(at(30, 4, 50_100)), false);
  assert.equal(pacer.ready(at(31, 4, 50_300)), true);
});

test('a release without a hold changes nothing', () => {
  const pacer = new KeyPacer(1000, 50_000);
  pacer.release(at(10, 4, 200));
  assert.equal(pacer.ready(at(10, 4, 200)), true);
});
