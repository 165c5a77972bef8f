import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SpareWorkers } from './spare-workers.ts';

// Real worker threads that behave as a domain worker does at start: report `ready`, then answer
// the first message they get with their thread id.
const WORKER_SOURCE = `
const { parentPort, threadId } = require('node:worker_threads');
parentPort.on('message', () => parentPort.postMessage({ type: 'booted', threadId }));
parentPort.postMessage({ type: 'ready' });
`;

function spawnCounting(): { spawn: () => Worker; spawned: Worker[] } {
  const spawned: Worker[] = [];
  return {
    spawned,
    spawn: () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      spawned.push(worker);
      return worker;
    },
  };
}

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), 'condition not reached within 5 s');
}

/** Boots the worker and returns the thread id it answers with (a fresh one says `ready` first). */
function bootedThread(worker: Worker): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string; threadId: number }) => {
      if (message.type !== 'booted') return;
      worker.off('message', onMessage);
      resolve(message.threadId);
    };
    worker.on('message', onMessage);
    worker.postMessage({ type: 'boot' });
  });
}

test('the first take starts a worker; later takes get a spare that loaded meanwhile', async () => {
  const { spawn, spawned } = spawnCounting();
  const spares = new SpareWorkers(spawn, 1, 0);
  try {
    assert.deepEqual(spares.counts(), { spare: 0, ready: 0 }, 'no spare before the first VM');
    const first = spares.take();
    assert.equal(await bootedThread(first), first.threadId);
    await waitUntil(() => spares.counts().ready === 1);
    const spare = spawned[1]!;
    const second = spares.take();
    assert.equal(second, spare, 'the ready spare is handed out');
    assert.equal(await bootedThread(second), spare.threadId);
    await waitUntil(() => spares.counts().spare === 1);
    assert.equal(spawned.length, 3, 'one spare refilled, no more');
    await Promise.all([first.terminate(), second.terminate()]);
  } finally {
    await spares.stop();
  }
  assert.deepEqual(spares.counts(), { spare: 0, ready: 0 });
});

test('a spare that dies is not handed out', async () => {
  const { spawn, spawned } = spawnCounting();
  const spares = new SpareWorkers(spawn, 1, 0);
  try {
    await spares.take().terminate();
    await waitUntil(() => spares.counts().ready === 1);
    await spawned[1]!.terminate();
    await waitUntil(() => spares.counts().ready === 1 && spawned.length === 3);
    const next = spares.take();
    assert.equal(next, spawned[2], 'its replacement is');
    assert.equal(await bootedThread(next), next.threadId);
    await next.terminate();
  } finally {
    await spares.stop();
  }
});
