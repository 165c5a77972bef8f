// A hypervisor daemon in its own process, as `npm start` runs it: for tests that kill it (-9)
// and start it again on the same data directory, and for fleets of hosts on loopback
// (relocation tests and the fleet benchmark).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '@raydesk/common/node';
import { HypervisorClient } from '../api/index.ts';

export const DAEMON_SECRET = `daemon-test-${process.pid}-secret`;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The hypervisor daemon as `npm start` runs it, in its own process. */
export class HypervisorProcess {
  private child: ChildProcess | null = null;
  client: HypervisorClient | null = null;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    /** More settings for the daemon (they win over the defaults below). */
    readonly env: NodeJS.ProcessEnv = {},
  ) {}

  /** The daemon's process id while it runs (per-thread CPU is read from /proc/<pid>/task). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<HypervisorClient> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'hypervisor/src/host/main.ts')],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          RAYDESK_DATA_DIR: this.dataDir,
          HYPERVISOR_HOST: '127.0.0.1',
          HYPERVISOR_PORT: String(this.port),
          HYPERVISOR_SECRET: DAEMON_SECRET,
          STANDBY_APPLIANCES: '',
          IDLE_SUSPEND_SECONDS: '0',
          HOST_MEMORY_BUDGET_MIB: '1024',
          LOG_LEVEL: 'info',
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('hypervisor listening')) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`daemon exited early (${code}): ${out}`)));
    });
    this.client = new HypervisorClient({
      url: `http://127.0.0.1:${this.port}`,
      secret: DAEMON_SECRET,
      timeoutMs: 10 * 60_000,
    });
    await this.client.connected();
    return this.client;
  }

  /** Sends `signal` to the daemon without waiting (SIGSTOP / SIGCONT to stall it). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** The daemon runs (it may be stopped by a signal). */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the daemon process has ended (by itself or by a signal). */
  exited(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Ends the daemon with `signal` and resolves with its exit code. */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    // The signal first: a client that disconnected before a kill -9 would have unwatched its
    // VMs, which a real crash never does.
    const exited =
      child && child.exitCode === null && child.signalCode === null
        ? new Promise<number | null>((resolve) => child.once('exit', resolve))
        : null;
    if (exited) child!.kill(signal);
    const code = exited ? await exited : (child?.exitCode ?? null);
    this.client?.close();
    this.client = null;
    this.child = null;
    return code;
  }
}
