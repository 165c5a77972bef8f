// Worker side of CPU scheduling: owns when v86 runs its next slice. v86 in Node asks for its next
// tick through `yield(delayMs, tick)` after every main loop; this replaces that one method on the
// instance (no v86 code is copied) to do two things:
//  - A halted guest sleeps on a timer. v86's own Node path uses setImmediate for any delay under
//    1 ms, and Node timers fire up to 1 ms early (integer-millisecond clock), so every guest
//    timer tick (250 Hz) ended in about a millisecond of setImmediate spinning: a quarter of a
//    core for an idle console VM, nearly half for an idle desktop.
//  - A running guest gets at most its budget of CPU per accounting period (set by the host's
//    credit scheduler); over budget, its next slice waits for the next period.
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** What the host's scheduler grants: `budgetMs` of CPU per `periodMs`; null = unlimited. */
export interface CpuBudget {
  periodMs: number;
  budgetMs: number | null;
}

/** Guest CPU use over one report window, sent to the host's scheduler. */
export interface CpuUsage {
  /** Wall time the window covers. */
  intervalMs: number;
  /** CPU charged to the guest: main-loop time scaled to the thread's measured CPU. */
  cpuMs: number;
  /** Time the guest was ready to run but held back by its budget. */
  throttledMs: number;
  /** Time the guest was halted, waiting for an interrupt (a spinning guest has none). */
  haltedMs: number;
  /** The worker thread's own CPU time (guest plus devices, display capture); null if unknown. */
  threadCpuMs: number | null;
}

/** The parts of v86's main-loop object (`emulator.v86`) this uses. */
export interface V86Loop {
  yield(delayMs: number, tick: number): void;
  yield_callback(tick: number): void;
  cpu: { main_loop(): number; in_hlt: Uint8Array };
}

const DEFAULT_PERIOD_MS = 50;
/** How often a worker reports its CPU use to the host's scheduler. */
export const CPU_REPORT_MS = 50;
/** How often a worker whose guest is idle reports it (a report costs both threads a wake-up). */
export const IDLE_CPU_REPORT_MS = 1000;
/** A guest that used less than this share of a report window, never held back, is idle. */
const IDLE_USAGE_SHARE = 0.05;

/** The guest barely ran and was never throttled: the scheduler can hear of it seldom. */
export function isIdleUsage(usage: CpuUsage): boolean {
  return usage.throttledMs === 0 && usage.cpuMs < IDLE_USAGE_SHARE * usage.intervalMs;
}
/** Extra CPU a throttled domain gets in the current period when input arrives (Xen's BOOST). */
const BOOST_MS = 15;

/**
 * CPU time of the calling thread in ms, from the kernel's per-thread scheduler stats. Read into
 * one small buffer: readFileSync on a procfs file allocates 64 KiB each time, and at 20 reads a
 * second that garbage forced a full GC every second or two. The file is not kept open because a
 * terminated worker never gets to close it.
 */
class ThreadCpuClock {
  private readonly buffer = Buffer.alloc(128);

  nowMs(): number | null {
    let fd: number | null = null;
    try {
      fd = openSync('/proc/thread-self/schedstat', 'r');
      const length = readSync(fd, this.buffer, 0, this.buffer.length, 0);
      const end = this.buffer.indexOf(32);
      const ns = Number(this.buffer.toString('latin1', 0, end > 0 && end < length ? end : length));
      return Number.isFinite(ns) ? ns / 1e6 : null;
    } catch {
      return null;
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }
}

export class CpuGovernor {
  private loop: V86Loop | null = null;
  private budget: CpuBudget = { periodMs: DEFAULT_PERIOD_MS, budgetMs: null };
  private periodStart = performance.now();
  /** Guest CPU charged in the current period, and extra allowance from input boosts. */
  private usedMs = 0;
  private boostMs = 0;
  private pending: { timer: NodeJS.Timeout | NodeJS.Immediate; immediate: boolean } | null = null;
  /** A tick held back by the budget, and since when. */
  private deferred: { tick: number; since: number } | null = null;
  /** When the halted guest went to sleep on its timer. */
  private haltedSince: number | null = null;
  /** Slices run so far, and the last one that ended with the guest halted (key pacing). */
  private slices = 0;
  private idleSlice = -1;
  /** Main-loop wall time is scaled by this to get CPU: thread CPU / main-loop wall time. */
  private preemptionFactor = 1;
  private readonly threadClock = new ThreadCpuClock();
  private window = {
    start: performance.now(),
    chargedMs: 0,
    throttledMs: 0,
    haltedMs: 0,
    loopWallMs: 0,
    threadCpuMs: null as number | null,
  };

  /**
   * Takes over v86's tick scheduling. Call before the emulator runs. `afterSlice` runs after
   * every emulation slice (main loop), when the guest may have drawn.
   */
  install(loop: V86Loop, afterSlice?: () => void): void {
    this.loop = loop;
    const mainLoop = loop.cpu.main_loop;
    loop.cpu.main_loop = () => {
      const started = performance.now();
      try {
        return mainLoop();
      } finally {
        this.slices++;
        if (loop.cpu.in_hlt[0] !== 0) this.idleSlice = this.slices;
        this.charge(performance.now() - started);
        afterSlice?.();
      }
    };
    loop.yield = (delayMs, tick) => this.schedule(delayMs, tick);
  }

  /** Slices run so far and the last one that ended with the guest idle (halted). */
  sliceProgress(): { slices: number; idleSlice: number } {
    return { slices: this.slices, idleSlice: this.idleSlice };
  }

  setBudget(budget: CpuBudget): void {
    this.budget = budget;
    this.releaseIfAllowed();
  }

  /** Input arrived: a throttled guest gets a little CPU now so it can react to it. */
  boost(): void {
    if (this.budget.budgetMs === null) return;
    this.rollPeriod(performance.now());
    this.boostMs = Math.max(this.boostMs, this.usedMs - this.budget.budgetMs + BOOST_MS);
    this.releaseIfAllowed();
  }

  /** Usage since the last report; starts a new report window. */
  takeUsage(): CpuUsage {
    const now = performance.now();
    if (this.deferred) {
      this.window.throttledMs += now - this.deferred.since;
      this.deferred.since = now;
    }
    if (this.haltedSince !== null) {
      this.window.haltedMs += now - this.haltedSince;
      this.haltedSince = now;
    }
    const threadNow = this.threadClock.nowMs();
    const threadUsed =
      threadNow !== null && this.window.threadCpuMs !== null
        ? threadNow - this.window.threadCpuMs
        : null;
    const usage: CpuUsage = {
      intervalMs: now - this.window.start,
      cpuMs: this.window.chargedMs,
      throttledMs: this.window.throttledMs,
      haltedMs: this.window.haltedMs,
      threadCpuMs: threadUsed,
    };
    // Charge what the thread really used: when other threads take its core, main-loop wall time
    // overstates it; the thread's other work (timers, wasm compiles of v86's JIT, display
    // capture) comes on top of it.
    if (threadUsed !== null && this.window.loopWallMs > 5) {
      this.preemptionFactor = Math.min(2, Math.max(0.1, threadUsed / this.window.loopWallMs));
    }
    this.window = {
      start: now,
      chargedMs: 0,
      throttledMs: 0,
      haltedMs: 0,
      loopWallMs: 0,
      threadCpuMs: threadNow,
    };
    return usage;
  }

  private charge(wallMs: number): void {
    const cpuMs = wallMs * this.preemptionFactor;
    this.usedMs += cpuMs;
    this.window.chargedMs += cpuMs;
    this.window.loopWallMs += wallMs;
  }

  private rollPeriod(now: number): void {
    if (now - this.periodStart < this.budget.periodMs) return;
    // Periods stay aligned to the first one, so a late wake-up does not shift the grid.
    const periods = Math.floor((now - this.periodStart) / this.budget.periodMs);
    this.periodStart += periods * this.budget.periodMs;
    // A slice can overrun the budget (the thread was preempted mid-slice, or one main loop ran
    // long): the overrun is paid from the next periods, so the average stays within the budget.
    // The debt is bounded (as Xen bounds credit) so one long stall costs at most two periods.
    const budgetMs = this.budget.budgetMs;
    this.usedMs =
      budgetMs === null
        ? 0
        : Math.min(2 * budgetMs, Math.max(0, this.usedMs - this.boostMs - budgetMs * periods));
    this.boostMs = 0;
  }

  private overBudget(): boolean {
    return this.budget.budgetMs !== null && this.usedMs >= this.budget.budgetMs + this.boostMs;
  }

  private schedule(delayMs: number, tick: number): void {
    const loop = this.loop!;
    this.cancelPending();
    const now = performance.now();
    this.endHalt(now);
    if (this.deferred) {
      // A wake-up (an interrupt) replaces the held-back tick; its wait so far still counts.
      this.window.throttledMs += now - this.deferred.since;
      this.deferred = null;
    }
    this.rollPeriod(now);
    const halted = loop.cpu.in_hlt[0] !== 0;
    if (!halted && this.overBudget()) {
      this.deferred = { tick, since: now };
      this.setPending(this.periodStart + this.budget.periodMs - now, () => this.runDeferred());
      return;
    }
    if (halted && delayMs > 0) {
      // Round up: waking early would only find the guest timer not yet due.
      this.haltedSince = now;
      this.setPending(Math.max(1, Math.ceil(delayMs)), () => {
        this.endHalt(performance.now());
        loop.yield_callback(tick);
      });
    } else if (delayMs < 1) {
      this.setImmediate(() => loop.yield_callback(tick));
    } else {
      this.setPending(delayMs, () => loop.yield_callback(tick));
    }
  }

  private endHalt(now: number): void {
    if (this.haltedSince === null) return;
    this.window.haltedMs += now - this.haltedSince;
    this.haltedSince = null;
  }

  private runDeferred(): void {
    const deferred = this.deferred;
    if (!deferred) return;
    this.pending = null;
    const now = performance.now();
    this.rollPeriod(now);
    if (this.overBudget()) {
      // Still paying off an overrun: wait for the next period.
      this.setPending(this.periodStart + this.budget.periodMs - now, () => this.runDeferred());
      return;
    }
    this.deferred = null;
    this.window.throttledMs += now - deferred.since;
    this.loop!.yield_callback(deferred.tick);
  }

  private releaseIfAllowed(): void {
    if (!this.deferred) return;
    this.rollPeriod(performance.now());
    if (this.overBudget()) return;
    this.cancelPending();
    this.setImmediate(() => this.runDeferred());
  }

  private setPending(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.pending = null;
      run();
    }, delayMs);
    this.pending = { timer, immediate: false };
  }

  private setImmediate(run: () => void): void {
    const timer = setImmediate(() => {
      this.pending = null;
      run();
    });
    this.pending = { timer, immediate: true };
  }

  private cancelPending(): void {
    if (!this.pending) return;
    if (this.pending.immediate) clearImmediate(this.pending.timer as NodeJS.Immediate);
    else clearTimeout(this.pending.timer as NodeJS.Timeout);
    this.pending = null;
  }
}
