// The supervisor with real child processes (scripts/lib/fixtures/supervised-part.mjs): restarts
// with backoff, kill -9, health checks after a restart, backoff reset, stop during a backoff
// wait, and a clean stop within each part's grace.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ProcessGroup,
  type PartExit,
  type PartUp,
  type ProcessGroupOptions,
  type ProcessSpec,
} from './processes.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'supervised-part.mjs');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function part(name: string, env: NodeJS.ProcessEnv, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { name, command: process.execPath, args: [FIXTURE], env, ...extra };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A group that records its events and keeps the parts' output for failure messages. */
function group(options: ProcessGroupOptions = {}) {
  const lines: string[] = [];
  const g = new ProcessGroup({
    handleSignals: false,
    output: (name, line) => lines.push(`${name}| ${line}`),
    log: (line) => lines.push(`supervisor| ${line}`),
    random: () => 0.5, // no jitter: exact delays
    ...options,
  });
  const exits: PartExit[] = [];
  const ups: PartUp[] = [];
  /** `previousAlive`: the part's previous process still ran when this one was spawned. */
  const spawns: { name: string; pid: number; previousAlive: boolean }[] = [];
  g.on('exit', (e) => exits.push(e));
  g.on('up', (u) => ups.push(u));
  g.on('spawn', (s) => {
    const previous = spawns.filter((p) => p.name === s.name).at(-1);
    spawns.push({ ...s, previousAlive: previous ? alive(previous.pid) : false });
  });
  return { g, exits, ups, spawns, lines };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a part that keeps dying is restarted with growing delays; the other part keeps running', async () => {
  const { g, exits, spawns, lines } = group();
  const steadyPort = await freePort();
  g.start(
    part(
      'steady',
      { PART_PORT: String(steadyPort) },
      { healthUrl: `http://127.0.0.1:${steadyPort}/` },
    ),
  );
  g.start(
    part(
      'flaky',
      { EXIT_AFTER_MS: '100', EXIT_CODE: '3' },
      { restart: { initialDelayMs: 50, factor: 2, maxDelayMs: 300, resetAfterMs: 60_000 } },
    ),
  );
  await g.whenUp('steady');
  const steadyPid = g.pid('steady');
  try {
    await until('five restarts of the flaky part', () => exits.length >= 5, 20_000);
    const flaky = exits.filter((e) => e.name === 'flaky');
    assert.deepEqual(
      flaky.slice(0, 5).map((e) => [e.code, e.restartInMs, e.failures]),
      [
        [3, 50, 1],
        [3, 100, 2],
        [3, 200, 3],
        [3, 300, 4],
        [3, 300, 5],
      ],
    );
    assert.ok(
      flaky.every((e) => e.uptimeMs >= 90),
      'uptime is reported',
    );
    assert.equal(
      exits.filter((e) => e.name === 'steady').length,
      0,
      'the other part never stopped',
    );
    assert.equal(g.pid('steady'), steadyPid);
    // One process per part at a time: each restart came after the previous process exited.
    const flakySpawns = spawns.filter((s) => s.name === 'flaky');
    assert.ok(
      flakySpawns.every((s) => !s.previousAlive),
      'never two processes of one part',
    );
    assert.ok(flakySpawns.length <= flaky.length + 1, 'never restarted twice for one exit');
    assert.ok(
      lines.some((l) => /flaky exited with code 3 after 0\.\d s up; restarting in 0\.1 s/.test(l)),
      lines.join('\n'),
    );
  } finally {
    await g.stop(0);
  }
});

test('kill -9: the part is restarted, its health URL is awaited, "back up after" is logged', async () => {
  const { g, exits, ups, lines } = group();
  const port = await freePort();
  g.start(
    part(
      'gateway',
      { PART_PORT: String(port) },
      { healthUrl: `http://127.0.0.1:${port}/`, restart: { initialDelayMs: 200 } },
    ),
  );
  await g.whenUp('gateway');
  const pid = g.pid('gateway')!;
  try {
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await until('the part to be back up', () => ups.length === 2);
    assert.equal(exits[0]!.signal, 'SIGKILL');
    assert.equal(exits[0]!.code, null);
    assert.equal(exits[0]!.restartInMs, 200);
    const back = ups[1]!;
    assert.equal(back.restarts, 1);
    assert.notEqual(back.pid, pid);
    assert.ok(back.afterMs >= 200 && back.afterMs <= Date.now() - killedAt + 50, `${back.afterMs}`);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), 'ok', 'the restarted part serves');
    assert.ok(lines.some((l) => /gateway killed by SIGKILL after .* restarting in 0\.2 s/.test(l)));
    assert.ok(lines.includes(`supervisor| gateway back up after ${back.afterMs} ms`));
  } finally {
    await g.stop(0);
  }
});

test('a part that stayed up long enough restarts at the initial delay again', async () => {
  const { g, exits } = group();
  g.start(
    part(
      'hypervisor',
      { EXIT_AFTER_MS: '250' },
      { restart: { initialDelayMs: 40, factor: 4, resetAfterMs: 150 } },
    ),
  );
  try {
    await until('three exits', () => exits.length >= 3);
    assert.deepEqual(
      exits.slice(0, 3).map((e) => [e.restartInMs, e.failures]),
      [
        [40, 1],
        [40, 1],
        [40, 1],
      ],
    );
  } finally {
    await g.stop(0);
  }
});

test('a stop during the backoff wait does not start the part again', async () => {
  const { g, exits, spawns } = group();
  g.start(part('web', { EXIT_AFTER_MS: '50' }, { restart: { initialDelayMs: 600 } }));
  await until('the first exit', () => exits.length === 1);
  assert.equal(exits[0]!.restartInMs, 600);
  const stopped = g.stop(7);
  assert.equal(await g.wait(), 7);
  await stopped;
  await sleep(900);
  assert.equal(spawns.length, 1, 'not started again after the stop');
  assert.equal(g.pid('web'), undefined);
});

test('stop: SIGTERM to every part, a slow part gets its grace, one that ignores it is killed', async () => {
  const { g, exits, spawns, lines } = group();
  g.start(part('saver', { TERM_DELAY_MS: '400' }, { stopGraceMs: 5_000 }));
  g.start(part('deaf', { IGNORE_TERM: '1' }, { stopGraceMs: 300 }));
  // Each part prints "up" once its SIGTERM handler is installed.
  await until('both parts to install their SIGTERM handlers', () =>
    ['saver', 'deaf'].every((name) => lines.some((l) => l.startsWith(`${name}| part `))),
  );
  const started = Date.now();
  await g.stop(0);
  const took = Date.now() - started;
  const saver = exits.find((e) => e.name === 'saver')!;
  const deaf = exits.find((e) => e.name === 'deaf')!;
  assert.deepEqual([saver.code, saver.signal, saver.restartInMs], [0, null, null]);
  assert.deepEqual([deaf.signal, deaf.restartInMs], ['SIGKILL', null]);
  assert.ok(took >= 400, `waited for the slow part (${took} ms)`);
  await sleep(300);
  assert.equal(spawns.length, 2, 'nothing restarted after a stop');
});

test('a command that cannot be spawned is retried with backoff, not fatal', async () => {
  const { g, exits, lines } = group();
  g.start({
    name: 'missing',
    command: '/nonexistent/raydesk-part',
    args: [],
    restart: { initialDelayMs: 30, factor: 2 },
  });
  try {
    await until('two failed attempts', () => exits.length >= 2);
    assert.deepEqual(
      exits.slice(0, 2).map((e) => e.restartInMs),
      [30, 60],
    );
    assert.ok(lines.some((l) => l.includes('missing could not be started')));
  } finally {
    await g.stop(0);
  }
});
