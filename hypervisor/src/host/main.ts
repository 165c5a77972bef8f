// The hypervisor daemon: `tsx hypervisor/src/host/main.ts`. `npm start` runs it for you.
import pino from 'pino';
import { APPLIANCE_NAMES } from '../api/protocol.ts';
import { loadConfig } from '../config.ts';
import { startHypervisor } from './index.ts';

const config = loadConfig();
const log = pino({ name: 'hypervisor', level: config.logLevel });
const running = await startHypervisor(config, log);
const { host } = running;
const port = running.config.port;
log.info(
  {
    port,
    host: config.host,
    id: config.hostId,
    fleet: !!config.fleet,
    memoryBudgetMiB: config.memoryBudgetMiB,
    dataDir: config.dataDir,
  },
  'hypervisor listening',
);

// Load the golden snapshots that are already built, so the first VM of each appliance resumes
// without waiting for disk and decompression. Missing ones are built on first use.
for (const appliance of APPLIANCE_NAMES) {
  void host
    .preloadGolden(appliance)
    .catch((error: unknown) =>
      log.warn({ appliance, err: error }, 'golden snapshot not preloaded'),
    );
}

host.enableStandby(config.standbyAppliances);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const personal = host
    .list()
    .filter((d) => d.kind === 'personal' && (d.state === 'running' || d.state === 'paused'));
  log.info(
    { signal, saving: personal.length },
    'stopping: saving running personal domains, ending the others',
  );
  await running.close({ suspendPersonal: true });
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
