// Embedding API: run a hypervisor host inside another process (the daemon's main.ts, tests,
// benchmarks). Clients in other processes use `@raydesk/hypervisor/api` instead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type HypervisorConfig } from '../config.ts';
import { ControlServer } from './control-server.ts';
import { FleetHeartbeat } from './fleet-heartbeat.ts';
import { Host } from './host.ts';

export { Host } from './host.ts';
export { Domain } from './domain.ts';
export { ControlServer } from './control-server.ts';

export interface RunningHypervisor {
  host: Host;
  server: ControlServer;
  config: HypervisorConfig;
  /** e.g. http://127.0.0.1:7420 */
  url: string;
  /** Stops heartbeating (fleet), closes the control channel and shuts the host down. */
  close(options?: { suspendPersonal?: boolean }): Promise<void>;
}

export async function startHypervisor(
  config: HypervisorConfig,
  log: pino.Logger = pino({ name: 'hypervisor', level: config.logLevel }),
): Promise<RunningHypervisor> {
  const host = Host.open(config, log);
  host.recover();
  host.enableIdleSuspend(config.idleSuspendSeconds);
  const server = new ControlServer(host, config.secret, log);
  const port = await server.listen(config.port, config.host);
  // Desktops that were in use when the host went down boot again, in the background.
  void host.restartRecovered();
  const url = `http://${config.host}:${port}`;
  host.setControlUrl(config.fleet?.publicUrl ?? url);
  const heartbeat = config.fleet
    ? new FleetHeartbeat({
        databaseUrl: config.fleet.databaseUrl,
        hostId: config.hostId,
        url: config.fleet.publicUrl ?? url,
        intervalMs: config.fleet.heartbeatMs,
        info: () => host.info(),
        heldDomains: () => host.heldDomainIds(),
        log,
      })
    : null;
  await heartbeat?.start();
  return {
    host,
    server,
    config: { ...config, port },
    url,
    async close(options = {}) {
      await heartbeat?.stop();
      await server.close();
      await host.shutdown(options);
    },
  };
}

/**
 * A throwaway hypervisor for tests and benchmarks: loopback, a free port, a random secret and
 * a temporary data directory that is removed on close. Guest images come from the shared cache.
 */
export async function startEphemeralHypervisor(
  overrides: Partial<HypervisorConfig> = {},
): Promise<RunningHypervisor> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-hv-'));
  const config: HypervisorConfig = {
    ...loadConfig({ ...process.env, HYPERVISOR_SECRET: `ephemeral-${process.pid}-${Date.now()}` }),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    ...overrides,
  };
  const running = await startHypervisor(
    config,
    pino({ name: 'hypervisor', level: process.env.TEST_LOG_LEVEL ?? 'warn' }),
  );
  return {
    ...running,
    async close() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
