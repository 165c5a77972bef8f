// Which hypervisor a CLI host argument names: a control URL, or, in a fleet (FLEET=on), a host
// id from the registry in PostgreSQL. In a fleet the registry also learns what the CLI did: a
// drained host is marked draining (placement then avoids it), and a moved VM's host changes.
import { createDb, type Db } from '@raydesk/db';
import { hostUrlSchema } from '../api/protocol.ts';
import type { FleetSettings } from '../config.ts';

export class HostArgumentError extends Error {}

export interface NamedHost {
  /** Registry id, when the host was named by it. */
  id: string | null;
  url: string;
}

export class FleetHosts {
  private db: Db | null = null;

  constructor(private readonly fleet: FleetSettings | null | undefined) {}

  /** The control URL of `host`: itself when it is one, else looked up in the fleet registry. */
  async resolve(host: string): Promise<NamedHost> {
    if (hostUrlSchema.safeParse(host).success) return { id: null, url: host };
    const row = await this.registry('name a host by its id').hypervisorHost.findUnique({
      where: { id: host },
    });
    if (!row) throw new HostArgumentError(`no host ${host} in the fleet registry`);
    return { id: row.id, url: row.url };
  }

  /** The online, not draining host other than `except` with the most free memory, then least load. */
  async pickTarget(except: NamedHost): Promise<NamedHost> {
    const rows = await this.registry('pick a target host').hypervisorHost.findMany({
      where: { status: 'online', draining: false },
    });
    const candidates = rows
      .filter((row) => row.id !== except.id && row.url !== except.url)
      .sort(
        (a, b) =>
          b.memoryBudgetMiB - b.memoryUsedMiB - (a.memoryBudgetMiB - a.memoryUsedMiB) ||
          a.load - b.load,
      );
    const best = candidates[0];
    if (!best) throw new HostArgumentError('no other online host that is not draining; give --to');
    return { id: best.id, url: best.url };
  }

  /** Marks a registry host draining (or not); nothing to do outside a fleet. */
  async setDraining(host: NamedHost, draining: boolean): Promise<void> {
    if (!this.fleet) return;
    await this.registry('mark a host draining').hypervisorHost.updateMany({
      where: host.id ? { id: host.id } : { url: host.url },
      data: { draining },
    });
  }

  /** Records that a domain now runs on `hostId` (the portal's VM row follows it). */
  async recordMove(domainId: string, hostId: string): Promise<void> {
    if (!this.fleet) return;
    await this.registry('record a move').vm.updateMany({ where: { domainId }, data: { hostId } });
  }

  async close(): Promise<void> {
    await this.db?.$disconnect();
  }

  private registry(what: string): Db {
    if (!this.fleet) {
      throw new HostArgumentError(
        `to ${what} this CLI needs the fleet registry (FLEET=on and DATABASE_URL); ` +
          'otherwise give hosts as control URLs, e.g. http://10.0.0.2:7420',
      );
    }
    this.db ??= createDb(this.fleet.databaseUrl);
    return this.db;
  }
}
