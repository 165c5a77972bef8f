// `npm start`: after bootstrap.mjs installed dependencies, this prepares the guests and the
// database, then runs the hypervisor, the gateway and the portal until Ctrl-C.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, REPO_ROOT } from '@raydesk/hypervisor/config';
import { prepareGuests } from '@raydesk/hypervisor/setup';
import { ProcessGroup, waitForHttp } from './lib/processes.ts';
import { preparePortal } from './lib/portal.ts';

const config = loadConfig();
const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

await prepareGuests({
  appliances: ['console', 'desktop', 'browser'],
  golden: ['console', 'desktop', 'browser'],
});
const portal = await preparePortal();

const group = new ProcessGroup();
group.start({
  name: 'hypervisor',
  command: tsx,
  args: ['hypervisor/src/host/main.ts'],
  cwd: REPO_ROOT,
  // On stop it saves every running personal desktop to disk first; give it time to.
  stopGraceMs: 5 * 60_000,
});
await waitForHttp(`http://${config.host}:${config.port}/healthz`, 60_000);

if (existsSync(join(REPO_ROOT, 'gateway/src/main.ts'))) {
  group.start({ name: 'gateway', command: tsx, args: ['gateway/src/main.ts'], cwd: REPO_ROOT });
}
group.start({ name: 'web', ...portal.command });
await waitForHttp(portal.url, 120_000).then(
  () => {
    console.log(`\nRaydesk is running: ${portal.openHint}`);
    if (portal.adminHint) console.log(portal.adminHint);
    console.log('Stop with Ctrl-C.\n');
  },
  (error: unknown) => console.error((error as Error).message),
);

process.exit(await group.wait());
