// `npm run fleet`: a whole fleet on this machine, to try it: PostgreSQL and Redis (from the
// Debian packages, on loopback, data in data/fleet/), the migrations and seed on that
// PostgreSQL, then two hypervisor hosts, two gateways and the portal under the supervisor, as
// `npm start` runs its parts. Ctrl-C stops them all (each host saves its personal desktops
// first), then PostgreSQL and Redis.
//
// Ports: the hosts at HYPERVISOR_PORT and HYPERVISOR_PORT+10, the gateways at GATEWAY_PORT and
// GATEWAY_PORT+10, the portal at PORT; PostgreSQL at FLEET_POSTGRES_PORT (7432), Redis at
// FLEET_REDIS_PORT (7479). Each host keeps its VMs under data/fleet/host-1, host-2.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import { prepareGuests } from '@raydesk/hypervisor/setup';
import { fleetParts, FLEET_HOSTS } from './lib/fleet.ts';
import { startFleetServices } from './lib/fleet-services.ts';
import { preparePortal } from './lib/portal.ts';
import { ProcessGroup } from './lib/processes.ts';

loadRootEnv();
const port = (name: string, fallback: number) => Number(process.env[name] || fallback);
const hypervisorPort = port('HYPERVISOR_PORT', 7420);
const gatewayPort = port('GATEWAY_PORT', 7421);
const fleetDir = join(REPO_ROOT, 'data', 'fleet');
mkdirSync(fleetDir, { recursive: true });

await prepareGuests();
const services = await startFleetServices({
  dir: fleetDir,
  postgresPort: port('FLEET_POSTGRES_PORT', 7432),
  redisPort: port('FLEET_REDIS_PORT', 7479),
  keep: true,
});
const stopServices = () => services.stop().catch(() => undefined);
let exitCode = 1;
try {
  // Migrations and seed go to the fleet's PostgreSQL, and every part below gets its URL.
  process.env.DATABASE_URL = services.databaseUrl;
  process.env.FLEET = 'on';
  const portal = await preparePortal();

  const group = new ProcessGroup();
  const parts = fleetParts(process.env, {
    databaseUrl: services.databaseUrl,
    redisUrl: services.redisUrl,
    dataDir: fleetDir,
    hypervisorPorts: [hypervisorPort, hypervisorPort + 10],
    gatewayPorts: [gatewayPort, gatewayPort + 10],
    portalPort: port('PORT', 3000),
  });
  for (const part of parts) group.start(part);
  void (async () => {
    await Promise.all(parts.map((part) => group.whenUp(part.name)));
    console.log(
      `\nA Raydesk fleet is running (${FLEET_HOSTS.length} hosts, 2 gateways): ${portal.openHint}`,
    );
    if (portal.adminHint) console.log(portal.adminHint);
    console.log(`PostgreSQL ${services.databaseUrl}, Redis ${services.redisUrl}`);
    console.log('Stop with Ctrl-C.\n');
  })().catch(() => undefined); // stopped before every part was up
  exitCode = await group.wait();
} finally {
  await stopServices();
}
process.exit(exitCode);
