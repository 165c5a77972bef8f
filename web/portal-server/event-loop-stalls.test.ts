import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import pino from 'pino';
import { watchEventLoopStalls } from './event-loop-stalls.mjs';

function capture() {
  const lines: { stalledMs: number; cpuMs: number; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

test('a blocked event loop is logged with how long it was blocked', async () => {
  const { log, lines } = capture();
  const stop = watchEventLoopStalls({ thresholdMs: 100, log });
  await sleep(50);
  const until = performance.now() + 250;
  while (performance.now() < until); // blocks the loop, as a long synchronous render would
  await sleep(50);
  stop();
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]!.msg, 'portal event loop stalled');
  // How much of it the CPU gave the process depends on the machine's load: only its presence.
  assert.ok(Number.isInteger(lines[0]!.cpuMs) && lines[0]!.cpuMs >= 0, String(lines[0]!.cpuMs));
  assert.ok(lines[0]!.stalledMs >= 150 && lines[0]!.stalledMs <= 1000, String(lines[0]!.stalledMs));
});

test('a threshold of 0 turns the monitor off', async () => {
  const { log, lines } = capture();
  const stop = watchEventLoopStalls({ thresholdMs: 0, log });
  const until = performance.now() + 150;
  while (performance.now() < until);
  await sleep(50);
  stop();
  assert.deepEqual(lines, []);
});
