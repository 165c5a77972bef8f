import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CpuBudget } from '../worker/cpu-governor.ts';
import {
  CreditScheduler,
  DEFAULT_WEIGHT,
  allocateBudgets,
  domainLimitMs,
  waterFill,
  type DomainDemand,
  type SchedParams,
} from './scheduler.ts';

const close = (actual: number | undefined, expected: number, what = '') =>
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-6,
    `${what} ${actual} ≈ ${expected}`,
  );

const demand = (id: string, over: Partial<DomainDemand> = {}): DomainDemand => ({
  id,
  weight: DEFAULT_WEIGHT,
  cap: 0,
  usedMs: 0,
  hungry: false,
  ...over,
});

describe('waterFill', () => {
  test('splits by weight when nobody reaches a limit', () => {
    const shares = waterFill(90, [
      { id: 'a', weight: 256, limit: 100 },
      { id: 'b', weight: 512, limit: 100 },
    ]);
    close(shares.get('a'), 30);
    close(shares.get('b'), 60);
  });

  test('hands what a limited item cannot take to the others', () => {
    const shares = waterFill(100, [
      { id: 'capped', weight: 256, limit: 10 },
      { id: 'b', weight: 256, limit: 100 },
      { id: 'c', weight: 256, limit: 100 },
    ]);
    close(shares.get('capped'), 10);
    close(shares.get('b'), 45);
    close(shares.get('c'), 45);
  });

  test('never gives more than the limits even with capacity left over', () => {
    const shares = waterFill(500, [
      { id: 'a', weight: 1, limit: 50 },
      { id: 'b', weight: 1000, limit: 50 },
    ]);
    close(shares.get('a'), 50);
    close(shares.get('b'), 50);
  });

  test('copes with nothing to share', () => {
    assert.equal(waterFill(100, []).size, 0);
    close(waterFill(0, [{ id: 'a', weight: 1, limit: 5 }]).get('a'), 0);
  });
});

describe('allocateBudgets', () => {
  const period = 50;

  test('a cap limits a domain to its percent of one core', () => {
    close(domainLimitMs(30, period), 15);
    close(domainLimitMs(0, period), 50, 'no cap: one core');
    const budgets = allocateBudgets(75, period, [
      demand('spin', { cap: 30, hungry: true, usedMs: 15 }),
    ]);
    close(budgets.get('spin'), 15);
  });

  test('busy domains share the capacity by weight', () => {
    const budgets = allocateBudgets(75, period, [
      demand('a', { hungry: true, usedMs: 37 }),
      demand('b', { hungry: true, usedMs: 37, weight: 512 }),
    ]);
    close(budgets.get('a'), 25);
    close(budgets.get('b'), 50);
  });

  test('an idle domain keeps its fair share; busy ones get what it leaves unused', () => {
    // 1.5 cores of capacity, one interactive domain using 2 ms, three spinning ones.
    const budgets = allocateBudgets(75, period, [
      demand('typing', { usedMs: 2 }),
      demand('spin1', { hungry: true, usedMs: 24 }),
      demand('spin2', { hungry: true, usedMs: 24 }),
      demand('spin3', { hungry: true, usedMs: 24 }),
    ]);
    close(budgets.get('typing'), 75 / 4, 'the idle domain can wake to its guaranteed share');
    for (const id of ['spin1', 'spin2', 'spin3']) close(budgets.get(id), (75 - 2) / 3, id);
  });

  test('a lone busy domain gets a whole core, not the whole host', () => {
    const budgets = allocateBudgets(150, period, [demand('spin', { hungry: true, usedMs: 50 })]);
    close(budgets.get('spin'), 50);
  });

  test('the guaranteed shares never exceed the capacity', () => {
    const domains = Array.from({ length: 7 }, (_, i) => demand(`d${i}`, { weight: 100 + i * 50 }));
    const budgets = allocateBudgets(75, period, domains);
    const total = [...budgets.values()].reduce((a, b) => a + b, 0);
    close(total, 75);
  });
});

class FakeDomain {
  readonly budgets: CpuBudget[] = [];
  sched: SchedParams = { weight: DEFAULT_WEIGHT, cap: 0 };
  constructor(
    readonly id: string,
    public runnable = true,
  ) {}
  setCpuBudget(budget: CpuBudget): void {
    this.budgets.push(budget);
  }
  get last(): number | null | undefined {
    return this.budgets.at(-1)?.budgetMs;
  }
}

describe('CreditScheduler', () => {
  /** One 50 ms report; by default the guest was halted for the rest of the window. */
  const usage = (cpuMs: number, throttledMs = 0, haltedMs = 50 - cpuMs - throttledMs) => ({
    intervalMs: 50,
    cpuMs,
    throttledMs,
    haltedMs,
    threadCpuMs: cpuMs,
  });

  test('holds a spinning domain to what the others leave, and keeps room for the idle one', () => {
    const spin = new FakeDomain('spin');
    const idle = new FakeDomain('idle');
    const scheduler = new CreditScheduler({ enabled: true, capacityCores: 1 }, () => [spin, idle]);
    scheduler.tick();
    assert.equal(spin.last, null, 'uncontended: nobody is held back');
    assert.equal(idle.last, null);
    scheduler.report('spin', usage(25, 20));
    scheduler.report('idle', usage(1));
    scheduler.tick();
    close(spin.last ?? undefined, 49, 'spinner gets what the idle one did not use');
    close(idle.last ?? undefined, 25, 'idle domain keeps its share');
  });

  test('spinning guests slowed by a loaded host still compete for whole cores', () => {
    const a = new FakeDomain('a');
    const b = new FakeDomain('b');
    const idle = new FakeDomain('idle');
    const scheduler = new CreditScheduler({ enabled: true, capacityCores: 1.5 }, () => [
      a,
      b,
      idle,
    ]);
    // Other processes took most of the host: each spinner got 0.4 core and never halted.
    scheduler.report('a', usage(20, 0, 0));
    scheduler.report('b', usage(20, 0, 0));
    scheduler.report('idle', usage(1));
    scheduler.tick();
    assert.notEqual(a.last, null, 'two cores wanted, 1.5 available: contended');
    assert.notEqual(b.last, null);
    close(a.last ?? undefined, b.last ?? NaN, 'equal weights, equal shares');
    // The same use with the guests halting between bursts fits: nobody is held back.
    scheduler.report('a', usage(20));
    scheduler.report('b', usage(20));
    scheduler.tick();
    assert.equal(a.last, null);
    assert.equal(b.last, null);
  });

  test('paused domains are not scheduled and a cap set at run time applies', () => {
    const spin = new FakeDomain('spin');
    const paused = new FakeDomain('paused', false);
    const scheduler = new CreditScheduler({ enabled: true, capacityCores: 1.5 }, () => [
      spin,
      paused,
    ]);
    scheduler.report('spin', usage(50));
    scheduler.tick();
    assert.equal(spin.last, null, 'one core wanted, 1.5 available: not held back');
    assert.equal(paused.budgets.length, 0);
    const view = scheduler.configure(spin, { cap: 20 });
    assert.equal(view.cap, 20);
    assert.equal(view.weight, DEFAULT_WEIGHT);
    close(spin.last ?? undefined, 10);
  });

  test('turned off, every domain is unlimited', () => {
    const spin = new FakeDomain('spin');
    const scheduler = new CreditScheduler({ enabled: true, capacityCores: 0.5 }, () => [spin]);
    scheduler.report('spin', usage(25, 5));
    scheduler.tick();
    close(spin.last ?? undefined, 25, 'contended: held to the capacity');
    scheduler.setEnabled(false);
    assert.equal(spin.last, null);
    assert.equal(scheduler.configure(spin, {}).enabled, false);
  });

  test('only sends a budget when it changes, and accounts throttled time', () => {
    const a = new FakeDomain('a');
    const scheduler = new CreditScheduler({ enabled: true, capacityCores: 1 }, () => [a]);
    scheduler.tick();
    scheduler.tick();
    assert.equal(a.budgets.length, 1);
    scheduler.report('a', usage(10, 5));
    scheduler.report('a', usage(10, 7));
    assert.equal(scheduler.statsOf('a').throttledMs, 12);
    assert.equal(scheduler.statsOf('a').cpuMs, 20);
  });
});
