import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CpuGovernor, type V86Loop } from './cpu-governor.ts';

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
  new CpuGovernor().install(loop);
  loop.nextTick(0);
  await sleep(200);
  loop.running = false;
  assert.ok(loop.calls <= 220, `${loop.calls} main loops in 200 ms (at most one per ms)`);
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
  assert.ok(usage.cpuMs >= 50 && usage.cpuMs <= 150, `used ${usage.cpuMs.toFixed(0)} ms of ~100`);
  assert.ok(usage.throttledMs >= 250, `throttled ${usage.throttledMs.toFixed(0)} ms`);

  // Over budget mid-period: a boost lets the next slice run now rather than at the period end.
  const before = loop.calls;
  governor.boost();
  await sleep(2);
  assert.ok(loop.calls > before, 'boost released the held-back slice');

  governor.setBudget({ periodMs: 50, budgetMs: null });
  governor.takeUsage();
  await sleep(200);
  const free = governor.takeUsage();
  loop.running = false;
  assert.equal(free.throttledMs, 0);
  assert.ok(free.cpuMs > 100, `unlimited again: used ${free.cpuMs.toFixed(0)} ms of 200`);
});
