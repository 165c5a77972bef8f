import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { StepTimes } from './step-times.ts';

test('records each step, failed ones too, as a Server-Timing header', async () => {
  const times = new StepTimes();
  assert.equal(await times.time('lookup', async () => 42), 42);
  await assert.rejects(
    times.time('claim', async () => {
      await sleep(5);
      throw new Error('host full');
    }),
    /host full/,
  );
  const header = times.header();
  assert.match(header, /^lookup;dur=\d+\.\d, claim;dur=(\d+)\.\d$/);
  assert.ok(Number(/claim;dur=([\d.]+)/.exec(header)![1]) >= 4);
});

test('refuses a step name that would break the header', async () => {
  const times = new StepTimes();
  await assert.rejects(
    times.time('a, b', async () => 1),
    /not a Server-Timing step name/,
  );
});
