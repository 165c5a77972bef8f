// Bringing back the personal domains a host had before it stopped, from their records: suspended
// ones as `saved` (they resume on start or attach), the rest as `crashed` with their disks intact
// (they boot on start). Crashed ones that had viewers are `restartPending`: they boot again by
// themselves, one at a time.
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type pino from 'pino';
import type { DomainState } from '../api/protocol.ts';
import type { DomainSpec, RecoveredDomain } from './domain.ts';
import type { DomainRecord } from './domain-registry.ts';

// The next in-use domain starts when the previous guest is ready, or after this long at the latest.
const READY_WAIT_MS = 120_000;

/** What recovery needs of a domain. */
export interface RecoverableDomain {
  readonly id: string;
  readonly state: DomainState;
  readonly createdAt: Date;
  readonly guestReady: boolean;
  restartPending: boolean;
  on(event: 'state', listener: () => void): unknown;
  off(event: 'state', listener: () => void): unknown;
}

export interface RecoveryOptions<D extends RecoverableDomain> {
  /** The personal domains' records (domain-registry.ts). */
  records(): { records: DomainRecord[]; problems: string[] };
  /** Whether the host has a domain with this id already. */
  has(id: string): boolean;
  /** Adds a recovered domain to the host. */
  register(spec: DomainSpec, recovered: RecoveredDomain): D;
  domains(): Iterable<D>;
  /** Boots a crashed domain on its disk. */
  start(id: string): Promise<unknown>;
  log: pino.Logger;
  readyWaitMs?: number;
}

export class Recovery<D extends RecoverableDomain> {
  constructor(private readonly options: RecoveryOptions<D>) {}

  /** Registers every recorded domain the host does not have yet; returns how many of each. */
  recover(): { saved: number; crashed: number; restartPending: number } {
    const { records, problems } = this.options.records();
    const { log } = this.options;
    for (const problem of problems) log.warn({ problem }, 'unreadable domain record skipped');
    const counts = { saved: 0, crashed: 0, restartPending: 0 };
    for (const record of records) {
      if (this.options.has(record.spec.id)) continue;
      const stateFile =
        record.savedStateFile && existsSync(record.savedStateFile) ? record.savedStateFile : null;
      const restart = !stateFile && record.inUse;
      const domain = this.options.register(record.spec, {
        state: stateFile ? 'saved' : 'crashed',
        createdAt: new Date(record.createdAt),
        savedStateFile: stateFile,
        error: stateFile
          ? null
          : restart
            ? 'the host stopped without saving this domain while it was in use; it boots again on its disk'
            : 'the host stopped without saving this domain; its disk is intact and it boots on start',
      });
      domain.restartPending = restart;
      if (stateFile) counts.saved++;
      else counts.crashed++;
      if (restart) counts.restartPending++;
    }
    if (records.length > 0) log.info(counts, 'personal domains recovered');
    return counts;
  }

  /**
   * Boots the recovered domains that were in use when the host went down, one at a time in
   * the order they were created, each on its own disk; the next one starts when the previous
   * guest is ready. Runs in the background: the host answers requests meanwhile.
   */
  async restartRecovered(): Promise<void> {
    const { log } = this.options;
    const pending = [...this.options.domains()]
      .filter((d) => d.restartPending)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    for (const domain of pending) {
      // Started or destroyed by someone else meanwhile.
      if (!domain.restartPending || domain.state !== 'crashed') {
        domain.restartPending = false;
        continue;
      }
      const started = performance.now();
      try {
        await this.options.start(domain.id);
        await this.guestReady(domain, this.options.readyWaitMs ?? READY_WAIT_MS);
        log.info(
          { domain: domain.id, ms: Math.round(performance.now() - started) },
          'domain in use before the host restarted is running again',
        );
      } catch (error) {
        domain.restartPending = false;
        log.warn({ domain: domain.id, err: error }, 'could not start a recovered domain');
      }
    }
  }

  /** Resolves once the domain's guest is ready, it stops running, or `timeoutMs` passed. */
  private guestReady(domain: D, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (domain.guestReady || domain.state !== 'running') done();
      };
      const done = () => {
        clearTimeout(timer);
        domain.off('state', check);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      domain.on('state', check);
      check();
    });
  }
}
