// The parts of a fleet on one machine (`npm run fleet`, the fleet tests): two hypervisor hosts,
// two display gateways and the portal, each its own process under the supervisor, all with
// FLEET=on against one PostgreSQL (the registry) and one Redis (the gateways' adapter). The same
// process specs as `npm start` (stack.ts), with distinct ids, ports and data folders.
import { join } from 'node:path';
import type { ProcessSpec } from './processes.ts';
import { stackParts } from './stack.ts';

export interface FleetLayout {
  databaseUrl: string;
  redisUrl: string;
  /** The hosts' data folders go under here (host-1/, host-2/). */
  dataDir: string;
  hypervisorPorts: [number, number];
  gatewayPorts: [number, number];
  portalPort: number;
}

export const FLEET_HOSTS = ['host-1', 'host-2'] as const;
export const FLEET_GATEWAYS = ['gw-1', 'gw-2'] as const;

/**
 * `env` is the complete base environment (the root .env applied, or a test's settings); the
 * fleet's own settings win over it.
 */
export function fleetParts(env: NodeJS.ProcessEnv, layout: FleetLayout): ProcessSpec[] {
  const shared: NodeJS.ProcessEnv = {
    ...env,
    FLEET: 'on',
    DATABASE_URL: layout.databaseUrl,
    REDIS_URL: layout.redisUrl,
    PORT: String(layout.portalPort),
    PORTAL_INTERNAL_URL: `http://127.0.0.1:${layout.portalPort}`,
    // Only the portal's origin is for browsers: it proxies /gateway/<id>/socket.io.
    GATEWAY_PUBLIC_URL: '',
  };
  const hosts = FLEET_HOSTS.map((id, i) => {
    const port = layout.hypervisorPorts[i]!;
    const hostEnv: NodeJS.ProcessEnv = {
      ...shared,
      HYPERVISOR_ID: id,
      HYPERVISOR_HOST: '127.0.0.1',
      HYPERVISOR_PORT: String(port),
      HYPERVISOR_URL: `http://127.0.0.1:${port}`,
      HYPERVISOR_PUBLIC_URL: `http://127.0.0.1:${port}`,
      RAYDESK_DATA_DIR: join(layout.dataDir, id),
    };
    const [hypervisor] = stackParts(hostEnv);
    return { ...hypervisor!, name: id };
  });
  const gateways = FLEET_GATEWAYS.map((id, i) => {
    const port = layout.gatewayPorts[i]!;
    const gatewayEnv: NodeJS.ProcessEnv = {
      ...shared,
      GATEWAY_ID: id,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_INTERNAL_URL: `http://127.0.0.1:${port}`,
      // Every token names its host; this default is for tokens that name none.
      HYPERVISOR_ID: FLEET_HOSTS[0],
      HYPERVISOR_URL: `http://127.0.0.1:${layout.hypervisorPorts[0]}`,
    };
    const gateway = stackParts(gatewayEnv)[1]!;
    return { ...gateway, name: id };
  });
  const portal = stackParts({
    ...shared,
    HYPERVISOR_ID: FLEET_HOSTS[0],
    HYPERVISOR_HOST: '127.0.0.1',
    HYPERVISOR_PORT: String(layout.hypervisorPorts[0]),
    GATEWAY_URL: `http://127.0.0.1:${layout.gatewayPorts[0]}`,
  })[2]!;
  return [...hosts, ...gateways, portal];
}
