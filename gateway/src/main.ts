// Gateway process entry: `npx tsx gateway/src/main.ts` (or `npm start -w gateway`).
import { loadRootEnv } from '@raydesk/common/node';
import pino from 'pino';
import { loadConfig } from './config.ts';
import { createGateway } from './server.ts';

loadRootEnv();
const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'gateway' });
const gateway = createGateway({ config, logger: log, defaultMetrics: true });
const { url } = await gateway.listen();
log.info(
  { url, hypervisor: config.hypervisorUrl, portal: config.portalInternalUrl },
  'gateway listening',
);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'gateway stopping');
  const force = setTimeout(() => process.exit(1), 5000);
  force.unref();
  gateway.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('unhandledRejection', (error) =>
  log.error({ err: String(error) }, 'unhandled rejection'),
);
