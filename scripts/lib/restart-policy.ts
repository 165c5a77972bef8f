// When to start a part again after it died: exponential backoff with jitter, capped, and reset
// once the part has stayed up a while (a part that crashes once a day restarts at once; one that
// crashes on every start backs off to the cap instead of spinning).

export interface RestartPolicyOptions {
  /** Delay before the first restart, ms. */
  initialDelayMs: number;
  /** Longest delay, ms (jitter included). */
  maxDelayMs: number;
  /** Each further failure in a row multiplies the delay by this. */
  factor: number;
  /** The delay is spread by up to this share either way, so parts do not restart in lockstep. */
  jitter: number;
  /** A part that ran at least this long before dying starts over at the initial delay. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.2,
  resetAfterMs: 60_000,
};

export class RestartPolicy {
  readonly options: RestartPolicyOptions;
  private failuresInARow = 0;

  constructor(
    options: Partial<RestartPolicyOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.options = { ...DEFAULT_RESTART_POLICY, ...options };
  }

  /** How many failures in a row the current backoff counts (0 before the first). */
  get failures(): number {
    return this.failuresInARow;
  }

  /** Records a failure after `uptimeMs` of running; returns the delay before the next start. */
  nextDelay(uptimeMs: number): number {
    const { initialDelayMs, maxDelayMs, factor, jitter, resetAfterMs } = this.options;
    if (uptimeMs >= resetAfterMs) this.failuresInARow = 0;
    this.failuresInARow++;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** (this.failuresInARow - 1));
    const spread = 1 - jitter + 2 * jitter * this.random();
    return Math.round(Math.min(maxDelayMs, base * spread));
  }
}
