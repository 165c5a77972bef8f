import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CpuGovernor, isIdleUsage, type V86Loop } from './cpu-governor.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stands in for v86's main-loop object: run a slice, then ask `yield` for the next one. */
class FakeLoop implements V86Loop {
  tickCounter = 0;
  running = true;
  calls = 0;
  cpu: V86Loop['cpu'];
  constructor(slice: (loop: FakeLoop) => number) {
    this.cpu = {
      in_hlt: new Uint8Array(1),
      main_loop: () => {
        this.calls++;
        return slice(this);
      },
    };
  }
  yield(_delayMs: number, _tick: number): void {
    throw new Error('not installed');
  }
  yield_callback(tick: number): void {
    if (!this.running || tick !== this.tickCounter) return;
    this.nextTick(this.cpu.main_loop());
  }
  nextTick(delayMs: number): void {
    this.yield(delayMs, ++this.tickCounter);
  }
}

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('a halted guest waits on a timer instead of spinning through sub-millisecond delays', async () => {
  // A halted v86 keeps asking for fractions of a millisecond until its next guest timer tick.
  const loop = new FakeLoop((l) => {
    l.cpu.in_hlt[0] = 1;
    return 0.4;
  });
  const governor = new CpuGovernor();
  governor.install(loop);
  governor.takeUsage();
  loop.nextTick(0);
  await sleep(200);
  const usage = governor.takeUsage();
  loop.running = false;
  assert.ok(loop.calls <= 220, `${loop.calls} main loops in 200 ms (at most one per ms)`);
  // What tells the host's scheduler this guest waits for interrupts rather than spinning.
  assert.ok(usage.haltedMs >= 100, `halted ${usage.haltedMs.toFixed(0)} ms of 200`);
});

test('a busy guest is held to its budget per period, and input boosts it at once', async () => {
  const loop = new FakeLoop(() => {
    spin(1);
    return 0;
  });
  const governor = new CpuGovernor();
  governor.install(loop);
  governor.setBudget({ periodMs: 50, budgetMs: 10 });
  governor.takeUsage();
  loop.nextTick(0);
  await sleep(500);
  const usage = governor.takeUsage();
  // 10 ms per 50 ms is ~100 ms of 500; a slice preempted on a busy machine overruns, and the
  // overrun is paid back in later periods, so allow for one such slice in this short window.
  assert.ok(usage.cpuMs >= 20 && usage.cpuMs <= 250, `used ${usage.cpuMs.toFixed(0)} ms of ~100`);
  assert.ok(usage.throttledMs >= 150, `throttled ${usage.throttledMs.toFixed(0)} ms`);

  // Over budget mid-period: a boost lets the next slice run now rather than at the period end.
  const before = loop.calls;
  governor.boost();
  await sleep(2);
  assert.ok(loop.calls > before, 'boost released the held-back slice');

  governor.setBudget({ periodMs: 50, budgetMs: null });
  governor.takeUsage();
  const callsBefore = loop.calls;
  await sleep(200);
  const free = governor.takeUsage();
  loop.running = false;
  // Rates are not asserted here: on a loaded machine this thread may get little CPU at all.
  assert.equal(free.throttledMs, 0, 'nothing held back once unlimited');
  assert.equal(free.haltedMs, 0, 'a spinning guest never halts');
  assert.ok(loop.calls > callsBefore, 'the held-back slice ran once the limit was lifted');
});

test('a guest that barely ran and was never held back counts as idle', () => {
  const usage = { intervalMs: 1000, throttledMs: 0, haltedMs: 990, threadCpuMs: 12 };
  assert.equal(isIdleUsage({ ...usage, cpuMs: 10 }), true);
  assert.equal(isIdleUsage({ ...usage, cpuMs: 200 }), false, 'used a fifth of a core');
  assert.equal(isIdleUsage({ ...usage, cpuMs: 10, throttledMs: 5 }), false, 'was held back');
});
