// `npm start`: after bootstrap.mjs installed dependencies, this prepares the guests and the
// database, then runs the hypervisor, the gateway and the portal under a supervisor that
// restarts any of them that dies, until Ctrl-C.
import { prepareGuests } from '@raydesk/hypervisor/setup';
import { ProcessGroup } from './lib/processes.ts';
import { preparePortal } from './lib/portal.ts';
import { stackParts } from './lib/stack.ts';

await prepareGuests();
// Also loads the root .env into this process, so every part below gets it.
const portal = await preparePortal();

const group = new ProcessGroup();
const [hypervisor, ...others] = stackParts(process.env);
group.start(hypervisor!);
void (async () => {
  // The gateway reconnects to the hypervisor by itself, but starting it first keeps the log tidy.
  await group.whenUp(hypervisor!.name);
  for (const part of others) group.start(part);
  await Promise.all(others.map((part) => group.whenUp(part.name)));
  console.log(`\nRaydesk is running: ${portal.openHint}`);
  if (portal.adminHint) console.log(portal.adminHint);
  console.log('Stop with Ctrl-C.\n');
})().catch(() => undefined); // stopped before every part was up

process.exit(await group.wait());
