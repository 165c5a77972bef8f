import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputQueue, type InputTarget } from './input-queue.ts';
import { KeyPacer, type GuestProgress } from './key-pacer.ts';

const at = (slices: number, idleSlice: number, instructions: number): GuestProgress => ({
  slices,
  idleSlice,
  instructions,
});

/** A target that records what reached the guest, in order. */
function recorder(): { target: InputTarget; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    target: {
      key: (code, down) => sent.push(`${code}${down ? '+' : '-'}`),
      planChar: (ch) =>
        ch === 'a'
          ? [
              { code: 'KeyA', down: true },
              { code: 'KeyA', down: false },
            ]
          : null,
      pointer: (x, y, buttons) => sent.push(`p${x},${y}/${buttons}`),
      wheel: (dx, dy) => sent.push(`w${dx},${dy}`),
    },
  };
}

/** Feeds until the queue stops asking, as the worker's timer does while the guest runs. */
function drain(queue: InputQueue, progress: () => GuestProgress, rounds = 50): void {
  for (let i = 0; i < rounds && queue.feed(progress()); i++);
}

test('pointer and wheel events go at once when nothing waits', () => {
  const { target, sent } = recorder();
  const queue = new InputQueue(target, new KeyPacer(1000, 1000));
  assert.equal(queue.push({ kind: 'pointer', x: 5, y: 6, buttons: 0 }, at(1, 1, 0)), false);
  assert.equal(queue.push({ kind: 'wheel', dx: 0, dy: 1 }, at(1, 1, 0)), false);
  assert.deepEqual(sent, ['p5,6/0', 'w0,1']);
  assert.equal(queue.length, 0);
});

test('while input is held, clicks, moves and wheel wait, and go in order once the guest settled', () => {
  const { target, sent } = recorder();
  const queue = new InputQueue(target, new KeyPacer(1000, 1000));
  queue.hold();
  const progress = at(10, 10, 0);
  assert.equal(queue.push({ kind: 'pointer', x: 1, y: 1, buttons: 0 }, progress), true);
  queue.push({ kind: 'pointer', x: 2, y: 2, buttons: 0 }, progress);
  queue.push({ kind: 'pointer', x: 3, y: 3, buttons: 1 }, progress);
  queue.push({ kind: 'pointer', x: 4, y: 4, buttons: 1 }, progress);
  queue.push({ kind: 'pointer', x: 5, y: 5, buttons: 1 }, progress);
  queue.push({ kind: 'wheel', dx: 0, dy: -1 }, progress);
  queue.push({ kind: 'pointer', x: 5, y: 5, buttons: 0 }, progress);
  assert.equal(queue.feed(progress), true);
  assert.deepEqual(sent, [], 'nothing reaches the guest during the hold');

  queue.release(at(12, 11, 500));
  // Released, but the guest has not been idle since: still waiting.
  assert.equal(queue.feed(at(13, 11, 900)), true);
  assert.deepEqual(sent, []);
  // Idle once after the release: everything goes, moves folded into the newest position, the
  // press where it was made.
  assert.equal(queue.feed(at(14, 14, 950)), false);
  assert.deepEqual(sent, ['p2,2/0', 'p3,3/1', 'p5,5/1', 'w0,-1', 'p5,5/0']);
});

test('a key press after a click waits until the guest has taken in the click', () => {
  const { target, sent } = recorder();
  const queue = new InputQueue(target, new KeyPacer(1000, 1000));
  queue.push({ kind: 'pointer', x: 7, y: 8, buttons: 1 }, at(3, 3, 100));
  queue.push({ kind: 'pointer', x: 7, y: 8, buttons: 0 }, at(3, 3, 100));
  assert.equal(queue.push({ kind: 'key', code: 'KeyQ', down: true }, at(3, 3, 100)), true);
  assert.equal(queue.feed(at(3, 3, 100)), true);
  assert.deepEqual(sent, ['p7,8/1', 'p7,8/0']);
  queue.feed(at(4, 4, 200));
  assert.deepEqual(sent, ['p7,8/1', 'p7,8/0', 'KeyQ+']);
});

test('pointer events behind waiting keys keep their place', () => {
  const { target, sent } = recorder();
  const queue = new InputQueue(target, new KeyPacer(1000, 1000));
  const busy = at(1, 0, 0);
  queue.push({ kind: 'key', code: 'KeyA', down: true }, busy);
  queue.push({ kind: 'key', code: 'KeyA', down: false }, busy);
  queue.push({ kind: 'key', code: 'KeyB', down: true }, busy);
  assert.equal(queue.push({ kind: 'pointer', x: 9, y: 9, buttons: 1 }, busy), true);
  queue.feed(busy);
  queue.feed(busy);
  // KeyB's press waits for the guest to take in KeyA; the click waits behind it.
  queue.feed(busy);
  assert.deepEqual(sent, ['KeyA+', 'KeyA-']);
  let instructions = 0;
  drain(queue, () => at(2, 0, (instructions += 2000)));
  assert.deepEqual(sent, ['KeyA+', 'KeyA-', 'KeyB+', 'p9,9/1']);
});

test('a key release at the head goes during a hold; a press waits', () => {
  const { target, sent } = recorder();
  const queue = new InputQueue(target, new KeyPacer(1000, 1000));
  queue.hold();
  queue.push({ kind: 'key', code: 'ShiftLeft', down: false }, at(1, 1, 0));
  queue.push({ kind: 'key', code: 'KeyC', down: true }, at(1, 1, 0));
  queue.feed(at(2, 2, 0));
  queue.feed(at(3, 3, 0));
  assert.deepEqual(sent, ['ShiftLeft-']);
});

test('characters become key events at their turn; clear drops what waits', () => {
  const { target, sent } = recorder();
  const queue = new InputQueue(target, new KeyPacer(1000, 1000));
  queue.push({ kind: 'char', char: 'a' }, at(1, 1, 0));
  queue.push({ kind: 'char', char: '€' }, at(1, 1, 0));
  let slice = 1;
  drain(queue, () => at(++slice, slice, 0));
  assert.deepEqual(sent, ['KeyA+', 'KeyA-'], 'a character the layout cannot type is dropped');

  queue.hold();
  queue.push({ kind: 'pointer', x: 1, y: 2, buttons: 4 }, at(9, 9, 0));
  assert.equal(queue.length, 1);
  queue.clear();
  assert.equal(queue.length, 0);
  queue.release(at(10, 10, 0));
  // After clear the device has released its buttons: the next event with none is no change.
  queue.feed(at(11, 11, 0));
  assert.equal(queue.push({ kind: 'pointer', x: 3, y: 3, buttons: 0 }, at(12, 12, 0)), false);
  assert.deepEqual(sent, ['KeyA+', 'KeyA-', 'p3,3/0']);
});
