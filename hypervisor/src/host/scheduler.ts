// Credit scheduler in the spirit of Xen's: each domain has a weight (default 256) and an optional
// cap (percent of one core, 0 = none). Every accounting period the host divides its guest CPU
// capacity (cores minus a reserve for the daemon, gateway and portal) among the running domains
// in proportion to weight, never past a domain's cap or one core (a domain is one thread). Each
// worker gets its share as a budget of CPU milliseconds per period and enforces it locally by
// holding back its emulator's next slice (worker/cpu-governor.ts).
//
// Work-conserving: a domain that did not use its share last period (it halted) keeps its share
// as its budget, so it can wake up at once (input, a timer), while the CPU it left unused is
// handed to the domains that ran into their budgets. Budgets may then briefly add up to more
// than the capacity; the next period corrects it. A throttled domain that receives input gets a
// small boost in its worker right away (Xen's BOOST).
import type { DomainSched, SchedParams } from '../api/protocol.ts';
import type { CpuBudget, CpuUsage } from '../worker/cpu-governor.ts';

export const DEFAULT_WEIGHT = 256;
export const SCHED_PERIOD_MS = 50;
/** A domain that used this share of its budget counts as wanting more CPU. */
const HUNGRY_SHARE = 0.9;
/** A guest halted for less than this share of a report window never waited for an interrupt:
 * it would use a whole core if it got one, even when a loaded host gives it less. */
const SPINNING_HALT_SHARE = 0.02;
/** A budget change smaller than this is not worth a message. */
const MIN_BUDGET_CHANGE_MS = 0.5;
/** Usage reports older than this many periods are ignored (a stalled or restarted worker). */
const STALE_PERIODS = 4;

export type { SchedParams };

/** One domain's input to an allocation. */
export interface DomainDemand {
  id: string;
  weight: number;
  cap: number;
  /** CPU used in the last period, ms. */
  usedMs: number;
  /** Ran into its budget (was throttled or used nearly all of it): it wants more. */
  hungry: boolean;
}

/**
 * Divides `total` among items in proportion to weight, none getting more than its limit; what a
 * limited item cannot take is shared among the others (weighted water-filling).
 */
export function waterFill(
  total: number,
  items: readonly { id: string; weight: number; limit: number }[],
): Map<string, number> {
  const shares = new Map<string, number>();
  let open = items.filter((item) => item.weight > 0);
  let remaining = Math.max(0, total);
  for (;;) {
    const weights = open.reduce((sum, item) => sum + item.weight, 0);
    if (open.length === 0 || weights === 0) break;
    const limited = open.filter((item) => (remaining * item.weight) / weights >= item.limit);
    if (limited.length === 0) {
      for (const item of open) shares.set(item.id, (remaining * item.weight) / weights);
      break;
    }
    for (const item of limited) {
      shares.set(item.id, item.limit);
      remaining -= item.limit;
    }
    open = open.filter((item) => !limited.includes(item));
  }
  for (const item of items) if (!shares.has(item.id)) shares.set(item.id, 0);
  return shares;
}

/** Most CPU a domain may use per period: its cap, and never more than one core. */
export function domainLimitMs(cap: number, periodMs: number): number {
  return (cap > 0 ? Math.min(cap, 100) / 100 : 1) * periodMs;
}

/**
 * Budgets (CPU ms per period) for the runnable domains. Each domain's guaranteed share is what
 * weighted water-filling of the capacity gives it if every domain wanted CPU. Domains that did
 * not use their share keep it as their budget (so they can wake at once); the hungry ones share
 * what the others left unused, by weight, up to their limits.
 */
export function allocateBudgets(
  capacityMs: number,
  periodMs: number,
  domains: readonly DomainDemand[],
): Map<string, number> {
  const limits = new Map(domains.map((d) => [d.id, domainLimitMs(d.cap, periodMs)]));
  const guaranteed = waterFill(
    capacityMs,
    domains.map((d) => ({ id: d.id, weight: d.weight, limit: limits.get(d.id)! })),
  );
  const lightUse = domains
    .filter((d) => !d.hungry)
    .reduce((sum, d) => sum + Math.min(d.usedMs, guaranteed.get(d.id)!), 0);
  const hungry = domains.filter((d) => d.hungry);
  const hungryShares = waterFill(
    capacityMs - lightUse,
    hungry.map((d) => ({ id: d.id, weight: d.weight, limit: limits.get(d.id)! })),
  );
  const budgets = new Map<string, number>();
  for (const d of domains) {
    const fair = guaranteed.get(d.id)!;
    budgets.set(d.id, d.hungry ? Math.max(fair, hungryShares.get(d.id)!) : fair);
  }
  return budgets;
}

/** What the scheduler needs from a domain (implemented by Domain). */
export interface SchedulableDomain {
  readonly id: string;
  /** Running (or booting) with a live worker: it competes for CPU. */
  readonly runnable: boolean;
  readonly sched: SchedParams;
  setCpuBudget(budget: CpuBudget): void;
}

export interface DomainCpuStats {
  /** Cumulative guest CPU and throttled time since the host started, ms. */
  cpuMs: number;
  throttledMs: number;
  /** Cumulative CPU of the domain's worker thread (guest, devices, display), ms. */
  threadCpuMs: number;
  /** Share of one core over the last report, 0-100 (the worker thread's own CPU when known). */
  recentPercent: number;
  /** Budget currently granted per period; null when unlimited. */
  budgetMs: number | null;
}

export interface CreditSchedulerOptions {
  enabled: boolean;
  /** Cores the guests may use together (host cores minus the reserve). */
  capacityCores: number;
  periodMs?: number;
}

export class CreditScheduler {
  readonly periodMs: number;
  private enabledValue: boolean;
  private readonly capacityCores: number;
  private readonly lastUsage = new Map<string, { usage: CpuUsage; at: number }>();
  private readonly stats = new Map<string, DomainCpuStats>();
  private readonly sent = new Map<string, number | null>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    options: CreditSchedulerOptions,
    private readonly domains: () => Iterable<SchedulableDomain>,
  ) {
    this.enabledValue = options.enabled;
    this.capacityCores = Math.max(0.1, options.capacityCores);
    this.periodMs = options.periodMs ?? SCHED_PERIOD_MS;
  }

  get enabled(): boolean {
    return this.enabledValue;
  }

  get capacity(): number {
    return this.capacityCores;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Turns scheduling on or off at run time (off: every domain runs unlimited). */
  setEnabled(enabled: boolean): void {
    this.enabledValue = enabled;
    this.tick();
  }

  /** Sets a domain's weight and/or cap (applied from the next period) and describes it. */
  configure(domain: { id: string; sched: SchedParams }, update: Partial<SchedParams>): DomainSched {
    const changes = Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
    if (Object.keys(changes).length > 0) {
      domain.sched = { ...domain.sched, ...changes };
      this.tick();
    }
    const stats = this.statsOf(domain.id);
    return {
      id: domain.id,
      ...domain.sched,
      enabled: this.enabledValue,
      budgetMs: stats.budgetMs === null ? null : Math.round(stats.budgetMs * 10) / 10,
      periodMs: this.periodMs,
      cpuMs: Math.round(stats.cpuMs),
      throttledMs: Math.round(stats.throttledMs),
    };
  }

  statsOf(id: string): DomainCpuStats {
    return (
      this.stats.get(id) ?? {
        cpuMs: 0,
        throttledMs: 0,
        threadCpuMs: 0,
        recentPercent: 0,
        budgetMs: null,
      }
    );
  }

  allStats(): Map<string, DomainCpuStats> {
    return this.stats;
  }

  /** A worker's usage report (every CPU_REPORT_MS). */
  report(id: string, usage: CpuUsage): void {
    this.lastUsage.set(id, { usage, at: Date.now() });
    const stats = this.statsOf(id);
    const used = usage.threadCpuMs ?? usage.cpuMs;
    this.stats.set(id, {
      ...stats,
      cpuMs: stats.cpuMs + usage.cpuMs,
      throttledMs: stats.throttledMs + usage.throttledMs,
      threadCpuMs: stats.threadCpuMs + used,
      recentPercent: usage.intervalMs > 0 ? Math.min(100, (used / usage.intervalMs) * 100) : 0,
    });
  }

  private forget(id: string): void {
    this.lastUsage.delete(id);
    this.stats.delete(id);
    this.sent.delete(id);
  }

  /** One accounting period: recomputes every runnable domain's budget and sends changes. */
  tick(): void {
    const all = [...this.domains()];
    const present = new Set(all.map((d) => d.id));
    for (const id of this.stats.keys()) if (!present.has(id)) this.forget(id);
    const runnable = all.filter((d) => d.runnable);
    if (!this.enabledValue) {
      for (const domain of runnable) this.send(domain, null);
      return;
    }
    const now = Date.now();
    const demands: DomainDemand[] = runnable.map((domain) => {
      const { weight, cap } = domain.sched;
      const last = this.lastUsage.get(domain.id);
      const fresh = last && now - last.at <= STALE_PERIODS * this.periodMs;
      if (!fresh) return { id: domain.id, weight, cap, usedMs: 0, hungry: false };
      const usedMs = (last.usage.cpuMs / Math.max(1, last.usage.intervalMs)) * this.periodMs;
      const budget = this.sent.get(domain.id);
      const ceiling = Math.min(budget ?? Infinity, domainLimitMs(cap, this.periodMs));
      const spinning =
        last.usage.cpuMs > 0 && last.usage.haltedMs < SPINNING_HALT_SHARE * last.usage.intervalMs;
      const hungry = last.usage.throttledMs > 0 || spinning || usedMs >= HUNGRY_SHARE * ceiling;
      return { id: domain.id, weight, cap, usedMs, hungry };
    });
    const capacityMs = this.capacityCores * this.periodMs;
    // Uncontended (what the domains want fits the capacity): nobody is held back but by its cap.
    // Budgets then only cost speed: a lone busy VM ran at half its MIPS under its own share.
    const wanted = demands.reduce(
      (sum, d) => sum + (d.hungry ? domainLimitMs(d.cap, this.periodMs) : d.usedMs),
      0,
    );
    if (wanted <= capacityMs) {
      for (const domain of runnable) {
        const { cap } = domain.sched;
        this.send(domain, cap > 0 ? domainLimitMs(cap, this.periodMs) : null);
      }
      return;
    }
    const budgets = allocateBudgets(capacityMs, this.periodMs, demands);
    for (const domain of runnable) this.send(domain, budgets.get(domain.id) ?? null);
  }

  private send(domain: SchedulableDomain, budgetMs: number | null): void {
    const previous = this.sent.get(domain.id);
    const changed =
      previous === undefined ||
      (previous === null) !== (budgetMs === null) ||
      (previous !== null &&
        budgetMs !== null &&
        Math.abs(previous - budgetMs) >= MIN_BUDGET_CHANGE_MS);
    if (!changed) return;
    this.sent.set(domain.id, budgetMs);
    const stats = this.statsOf(domain.id);
    this.stats.set(domain.id, { ...stats, budgetMs });
    domain.setCpuBudget({ periodMs: this.periodMs, budgetMs });
  }
}
