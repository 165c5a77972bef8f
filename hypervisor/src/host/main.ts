// The hypervisor daemon: `tsx hypervisor/src/host/main.ts`. `npm start` runs it for you.
import pino from 'pino';
import { loadConfig } from '../config.ts';
import { ControlServer } from './control-server.ts';
import { Host } from './host.ts';

const config = loadConfig();
const log = pino({ name: 'hypervisor', level: config.logLevel });
const host = new Host(config, log);
const server = new ControlServer(host, log);

const port = await server.listen(config.port, config.host);
log.info(
  { port, host: config.host, memoryBudgetMiB: config.memoryBudgetMiB, dataDir: config.dataDir },
  'hypervisor listening',
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping: ending every domain');
  await server.close();
  await host.shutdown();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
