// The portal in a fleet (FLEET=on): hypervisor hosts come from the registry in PostgreSQL (each
// host registers and heartbeats), one HypervisorClient per host by its control URL, and new VMs
// are placed on the host with the most headroom. In the embedded default there is one host, the
// one at HYPERVISOR_HOST:HYPERVISOR_PORT, and none of this is used.
import { HOST_OFFLINE_AFTER_MS, HypervisorClient } from '@raydesk/hypervisor/api';
import { config } from './config.ts';
import type { Db } from './db.ts';
import { HttpError } from './http.ts';

export { HOST_OFFLINE_AFTER_MS };

export function fleetMode(): boolean {
  return config().FLEET === 'on';
}

/** What placement and liveness need of a HypervisorHost row. */
export interface HostRow {
  id: string;
  url: string;
  memoryBudgetMiB: number;
  memoryUsedMiB: number;
  load: number;
  standby: string;
  draining: boolean;
  lastHeartbeatAt: Date | null;
}

/** Live: heartbeat within HOST_OFFLINE_AFTER_MS. */
export function isLive(host: Pick<HostRow, 'lastHeartbeatAt'>, now = new Date()): boolean {
  return (
    host.lastHeartbeatAt !== null &&
    now.getTime() - host.lastHeartbeatAt.getTime() <= HOST_OFFLINE_AFTER_MS
  );
}

/**
 * The host for a new VM of `appliance`: live, not draining, with room for `memoryMiB`; among
 * those a host with a ready standby VM of that appliance first, then the most free memory, then
 * the lowest load. Null when no host qualifies.
 */
export function chooseHost<H extends HostRow>(
  hosts: readonly H[],
  appliance: string,
  memoryMiB: number,
  now = new Date(),
): H | null {
  const free = (h: HostRow) => h.memoryBudgetMiB - h.memoryUsedMiB;
  const hasStandby = (h: HostRow) => h.standby.split(',').includes(appliance);
  const candidates = hosts.filter((h) => isLive(h, now) && !h.draining);
  // A standby VM holds its memory but is released for a real VM: count it as room.
  const fits = candidates.filter((h) => hasStandby(h) || free(h) >= memoryMiB);
  const ranked = (fits.length > 0 ? fits : candidates).slice().sort((a, b) => {
    if (hasStandby(a) !== hasStandby(b)) return hasStandby(a) ? -1 : 1;
    if (free(a) !== free(b)) return free(b) - free(a);
    return a.load - b.load;
  });
  return ranked[0] ?? null;
}

const holder = globalThis as unknown as { __raydeskHostClients?: Map<string, HypervisorClient> };
const clients = (holder.__raydeskHostClients ??= new Map());

/** The connection to one host, by its control URL (kept per id; a new URL reconnects). */
export function hostClient(host: { id: string; url: string }): HypervisorClient {
  const key = `${host.id} ${host.url}`;
  let client = clients.get(key);
  if (!client) {
    for (const [k, c] of clients) {
      if (k.startsWith(`${host.id} `)) {
        c.close();
        clients.delete(k);
      }
    }
    client = new HypervisorClient({
      url: host.url,
      secret: config().HYPERVISOR_SECRET,
      timeoutMs: 120_000,
    });
    clients.set(key, client);
  }
  return client;
}

/** Closes every host connection (tests, shutdown): a client retries its host until closed. */
export function closeHostClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}

/** A connected client of a registered host, or a 503 the person can understand. */
export async function connectedHost(
  db: Db,
  hostId: string,
  waitMs = 3_000,
): Promise<{ host: HostRow; client: HypervisorClient }> {
  const host = await db.hypervisorHost.findUnique({ where: { id: hostId } });
  const unavailable = new HttpError(
    503,
    'hypervisor_unavailable',
    'The server this desktop lives on is not reachable right now. It is listed again as soon as that server is back.',
  );
  if (!host || !isLive(host)) throw unavailable;
  const client = hostClient(host);
  try {
    await client.connected(waitMs);
  } catch {
    throw unavailable;
  }
  return { host, client };
}

/** Places a new VM: the chosen host and a connected client to it, or a 503. */
export async function placeNewVm(
  db: Db,
  appliance: string,
  memoryMiB: number,
): Promise<{ host: HostRow; client: HypervisorClient }> {
  const hosts = await db.hypervisorHost.findMany();
  const host = chooseHost(hosts, appliance, memoryMiB);
  if (!host) {
    throw new HttpError(
      503,
      'host_full',
      'No server can take another VM right now. Try again in a moment.',
    );
  }
  return connectedHost(db, host.id);
}

/** What gateway choice needs of a GatewayNode row. */
export interface GatewayRow {
  id: string;
  url: string;
  sessions: number;
  lastHeartbeatAt: Date;
}

/** Live gateways (heartbeat within HOST_OFFLINE_AFTER_MS), the least loaded first. */
export function rankGateways<G extends GatewayRow>(gateways: readonly G[], now = new Date()): G[] {
  return gateways
    .filter((g) => isLive(g, now))
    .sort((a, b) => a.sessions - b.sessions || a.id.localeCompare(b.id));
}

const GATEWAY_PROBE_MS = 800;

/** Whether a gateway answers its /healthz now (a gateway killed a moment ago still looks live). */
async function answers(gateway: GatewayRow): Promise<boolean> {
  try {
    const res = await fetch(new URL('/healthz', gateway.url), {
      signal: AbortSignal.timeout(GATEWAY_PROBE_MS),
      cache: 'no-store',
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The gateway for a viewer: the least loaded live gateway that answers now, or a 503 in plain
 * words.
 */
export async function chooseGateway(db: Db): Promise<GatewayRow> {
  for (const gateway of rankGateways(await db.gatewayNode.findMany())) {
    if (await answers(gateway)) return gateway;
  }
  throw new HttpError(
    503,
    'gateway_unavailable',
    'No display gateway is reachable right now. Try again in a moment.',
  );
}

/** Live gateways for the portal's proxy (web/portal-server/gateway-proxy.mjs). */
export async function liveGateways(db: Db): Promise<{ id: string; url: string }[]> {
  return rankGateways(await db.gatewayNode.findMany()).map(({ id, url }) => ({ id, url }));
}
