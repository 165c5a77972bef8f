// Standby domains: per listed appliance, one domain already resumed from the golden snapshot and
// paused, so a new VM of that appliance only needs an unpause and a fresh identity (the
// "instantly runnable" appliance). A standby domain holds its RAM; the pool lets it go when a
// real domain needs the memory.
import type pino from 'pino';
import type { ApplianceName, DomainState } from '../api/protocol.ts';

export interface StandbyFactory<D> {
  /** A domain of `appliance` for the pool: booted, its guest refreshed, paused. */
  prepare(appliance: ApplianceName): Promise<D>;
  /** Ends a standby domain nobody claimed (nothing to do when it is gone already). */
  discard(domain: D): Promise<void>;
}

export class StandbyPool<D extends { readonly state: DomainState }> {
  /** Per appliance, the standby domain being prepared or ready (null: preparing it failed). */
  private readonly ready = new Map<ApplianceName, Promise<D | null>>();
  private appliances: readonly ApplianceName[] = [];
  /** Refills waiting for the domain just claimed to be attached (refillAfter). */
  private readonly refillTimers = new Set<NodeJS.Timeout>();
  /** Standby domains whose preparation finished, for `readyAppliances`. */
  private readonly prepared = new Map<ApplianceName, D>();

  constructor(
    private readonly factory: StandbyFactory<D>,
    private readonly log: pino.Logger,
  ) {}

  /** Keeps one standby domain per listed appliance; an empty list lets them all go. */
  enable(appliances: readonly ApplianceName[]): void {
    this.appliances = appliances;
    if (appliances.length === 0) void this.release();
    for (const appliance of appliances) this.refill(appliance);
  }

  /**
   * Takes the appliance's standby domain if one is ready (paused) now; never waits for one.
   * The caller makes it its own, then asks for a replacement with `refill`.
   */
  async take(appliance: ApplianceName): Promise<D | null> {
    const pending = this.ready.get(appliance);
    if (!pending) return null;
    const domain = await Promise.race([pending, Promise.resolve(null)]);
    if (!domain || domain.state !== 'paused') return null;
    this.ready.delete(appliance);
    this.prepared.delete(appliance);
    return domain;
  }

  /** Starts preparing a standby domain for `appliance`, if it is listed and has none. */
  refill(appliance: ApplianceName): void {
    if (!this.appliances.includes(appliance) || this.ready.has(appliance)) return;
    const ready = this.factory.prepare(appliance).catch((error: unknown) => {
      this.log.warn({ appliance, err: error }, 'no standby domain');
      this.ready.delete(appliance);
      return null;
    });
    this.ready.set(appliance, ready);
    void ready.then((domain) => {
      if (domain && this.ready.get(appliance) === ready) this.prepared.set(appliance, domain);
    });
  }

  /**
   * `refill` after `delayMs`. A claim's replacement waits: restoring it from the golden snapshot
   * takes a core and the host's event loop for a while, just when the claimed desktop's viewer
   * attaches and its first frame is encoded.
   */
  refillAfter(appliance: ApplianceName, delayMs: number): void {
    const timer = setTimeout(() => {
      this.refillTimers.delete(timer);
      this.refill(appliance);
    }, delayMs);
    timer.unref();
    this.refillTimers.add(timer);
  }

  /** Lets every standby domain go, for a real domain that needs their memory. */
  async release(): Promise<void> {
    const pending = [...this.ready.values()];
    this.ready.clear();
    this.prepared.clear();
    for (const domain of await Promise.all(pending)) {
      if (domain) await this.factory.discard(domain).catch(() => undefined);
    }
  }

  /** Appliances whose standby domain is ready (paused) now: placement prefers these hosts. */
  readyAppliances(): ApplianceName[] {
    return [...this.prepared]
      .filter(([, domain]) => domain.state === 'paused')
      .map(([appliance]) => appliance);
  }

  /** Stops refilling and waits for domains being prepared (the host then ends them all). */
  async stop(): Promise<void> {
    this.appliances = [];
    for (const timer of this.refillTimers) clearTimeout(timer);
    this.refillTimers.clear();
    await Promise.all([...this.ready.values()]);
    this.ready.clear();
    this.prepared.clear();
  }
}
