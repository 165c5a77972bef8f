// The other live hosts of this host's fleet, from the registry in PostgreSQL: where a missing
// golden snapshot or appliance image is fetched from (peer-hosts.ts).
import { createDb, type Db } from '@raydesk/db';
import { HOST_OFFLINE_AFTER_MS } from '../api/protocol.ts';
import type { PeerHost, PeerHosts } from '../peer-hosts.ts';

export function fleetPeerHosts(options: {
  databaseUrl: string;
  hostId: string;
  secret: string;
}): PeerHosts {
  let db: Db | null = null;
  return {
    secret: options.secret,
    async peers(): Promise<PeerHost[]> {
      db ??= createDb(options.databaseUrl);
      const rows = await db.hypervisorHost.findMany({
        where: {
          id: { not: options.hostId },
          lastHeartbeatAt: { gte: new Date(Date.now() - HOST_OFFLINE_AFTER_MS) },
        },
        orderBy: { load: 'asc' },
      });
      return rows.map(({ id, url }) => ({ id, url }));
    },
  };
}
