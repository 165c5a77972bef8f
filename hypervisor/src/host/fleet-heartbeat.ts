// A host of a fleet registers itself in the fleet's PostgreSQL (the HypervisorHost row, id =
// HYPERVISOR_ID) and heartbeats every few seconds with its memory, load, VM counts and ready
// standby appliances. Portals read the rows to place VMs and call a host offline when its
// heartbeat is older than HOST_OFFLINE_AFTER_MS. The `draining` flag belongs to the operator:
// the heartbeat never writes it. Each heartbeat also claims the Vm rows of the domains this host
// holds, so a row left naming another host (a move whose caller failed after the commit, a move
// outside the portal) follows the VM within one heartbeat. Not used in the embedded default
// (one host, SQLite).
import { createDb, type Db } from '@raydesk/db';
import { Heartbeat } from '@raydesk/db/heartbeat';
import type pino from 'pino';
import type { HostInfo } from '../api/protocol.ts';

export interface FleetHeartbeatOptions {
  databaseUrl: string;
  hostId: string;
  /** The host's control URL as the rest of the fleet reaches it. */
  url: string;
  intervalMs: number;
  info: () => HostInfo;
  /** Domains this host holds and no relocation is deciding about (their Vm rows name it). */
  heldDomains: () => string[];
  log: pino.Logger;
}

export class FleetHeartbeat {
  private readonly db: Db;
  private readonly loop: Heartbeat;

  constructor(private readonly options: FleetHeartbeatOptions) {
    this.db = createDb(options.databaseUrl);
    const { hostId, url } = options;
    this.loop = new Heartbeat({
      name: 'fleet heartbeat',
      intervalMs: options.intervalMs,
      log: options.log,
      logFields: { hostId },
      write: async () => {
        const info = options.info();
        const fields = {
          url,
          memoryBudgetMiB: info.memoryBudgetMiB,
          memoryUsedMiB: info.memoryUsedMiB,
          cores: info.cores,
          domains: info.domains,
          running: info.running,
          load: info.load,
          standby: info.standbyReady.join(','),
          status: 'online',
          lastHeartbeatAt: new Date(),
        };
        await this.db.hypervisorHost.upsert({
          where: { id: hostId },
          create: { id: hostId, name: hostId, ...fields },
          update: fields,
        });
        await this.claimHeldDomains();
      },
    });
  }

  /** Points the Vm rows of the domains held here at this host, where they name another. */
  private async claimHeldDomains(): Promise<void> {
    const held = this.options.heldDomains();
    if (held.length === 0) return;
    const { hostId, log } = this.options;
    const claimed = await this.db.vm.updateMany({
      where: { domainId: { in: held }, OR: [{ hostId: null }, { hostId: { not: hostId } }] },
      data: { hostId },
    });
    if (claimed.count > 0)
      log.info({ hostId, vms: claimed.count }, 'fleet: VM rows now name this host');
  }

  /** Registers now (resolves after the first heartbeat was written or failed), then repeats. */
  start(): Promise<void> {
    return this.loop.start();
  }

  /** Writes one heartbeat; failures are logged once until one succeeds again. */
  beat(): Promise<void> {
    return this.loop.beat();
  }

  /** Stops heartbeating and marks the host offline at once (a clean stop, not a crash). */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.db.hypervisorHost
      .updateMany({ where: { id: this.options.hostId }, data: { status: 'offline' } })
      .catch(() => undefined);
    await this.db.$disconnect();
  }
}
