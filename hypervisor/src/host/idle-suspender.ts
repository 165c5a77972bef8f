// Suspends personal domains nobody has watched for a while: their state goes to disk and their
// RAM is freed. The next attach or start resumes them.
import type pino from 'pino';
import type { DomainKind } from '../api/protocol.ts';

// How often idle personal domains are looked at.
const CHECK_INTERVAL_MS = 5_000;

/** What the suspender needs of a domain. */
export interface IdleCandidate {
  readonly id: string;
  readonly spec: { readonly kind: DomainKind };
  /** Milliseconds since the running domain lost its last viewer (0 while watched). */
  idleMs(): number;
}

export interface IdleSuspenderOptions {
  domains(): Iterable<IdleCandidate>;
  /** Saves the domain to disk and ends its worker. */
  suspend(id: string): Promise<unknown>;
  log: pino.Logger;
}

export class IdleSuspender {
  private timer: NodeJS.Timeout | null = null;
  private limitMs = 0;
  private readonly suspending = new Set<string>();

  constructor(private readonly options: IdleSuspenderOptions) {}

  /** Suspends personal domains idle for `seconds`; 0 turns it off. */
  enable(seconds: number): void {
    this.disable();
    if (seconds <= 0) return;
    this.limitMs = seconds * 1000;
    this.timer = setInterval(() => this.check(), Math.min(CHECK_INTERVAL_MS, this.limitMs / 2));
    this.timer.unref();
  }

  disable(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.limitMs = 0;
  }

  /** One look at the domains (the timer's): suspends those idle past the limit. */
  check(): void {
    if (this.limitMs <= 0) return;
    for (const domain of this.options.domains()) {
      if (domain.spec.kind !== 'personal' || this.suspending.has(domain.id)) continue;
      const idleMs = domain.idleMs();
      if (idleMs < this.limitMs) continue;
      this.suspending.add(domain.id);
      this.options.log.info({ domain: domain.id, idleMs }, 'suspending idle domain');
      void this.options
        .suspend(domain.id)
        .catch((error: unknown) =>
          this.options.log.warn({ domain: domain.id, err: error }, 'idle suspend failed'),
        )
        .finally(() => this.suspending.delete(domain.id));
    }
  }
}
