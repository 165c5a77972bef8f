// The host's domains by id, and what follows from the table alone: lookups that say "not found"
// the way the API does, fresh ids, and how much guest memory the domains hold.
import { randomBytes } from 'node:crypto';
import type { DomainState } from '../api/protocol.ts';
import { HostError } from './errors.ts';
import { holdsMemory } from './lifecycle.ts';

/** What the table needs of a domain. */
export interface TableDomain {
  readonly id: string;
  readonly state: DomainState;
  readonly spec: { readonly memoryMiB: number; readonly vgaMemoryMiB: number };
}

export class DomainTable<D extends TableDomain> {
  private readonly domains = new Map<string, D>();

  add(domain: D): void {
    this.domains.set(domain.id, domain);
  }

  /** Removes `domain`, unless its id has been given to another domain meanwhile. */
  remove(domain: D): void {
    if (this.domains.get(domain.id) === domain) this.domains.delete(domain.id);
  }

  has(id: string): boolean {
    return this.domains.has(id);
  }

  /** Whether `domain` is the one the table holds under its id (not a stale object). */
  holds(domain: D): boolean {
    return this.domains.get(domain.id) === domain;
  }

  /** The domain under `id` in any state, `stopped` included. */
  find(id: string): D | undefined {
    return this.domains.get(id);
  }

  /** The domain under `id`; a missing or destroyed one is the API's `not_found`. */
  get(id: string): D {
    const domain = this.domains.get(id);
    if (!domain || domain.state === 'stopped') throw new HostError('not_found', `no domain ${id}`);
    return domain;
  }

  all(): D[] {
    return [...this.domains.values()];
  }

  /** A new id no domain in the table has: `vm-` and 8 hex digits. */
  newId(): string {
    for (;;) {
      const id = `vm-${randomBytes(4).toString('hex')}`;
      if (!this.domains.has(id)) return id;
    }
  }

  /** Guest RAM and VGA memory held by domains whose worker runs, in MiB. */
  memoryInUse(exceptId?: string): number {
    let total = 0;
    for (const domain of this.domains.values()) {
      if (domain.id !== exceptId && holdsMemory(domain.state)) {
        total += domain.spec.memoryMiB + domain.spec.vgaMemoryMiB;
      }
    }
    return total;
  }

  /** Domains that are not destroyed, and those of them that hold memory. */
  counts(): { domains: number; running: number } {
    const all = this.all();
    return {
      domains: all.filter((d) => d.state !== 'stopped').length,
      running: all.filter((d) => holdsMemory(d.state)).length,
    };
  }
}
