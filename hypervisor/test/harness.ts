// Starts a real hypervisor (host + control server) in-process on a free port, with its data
// directory in a temp folder, for integration tests. Guest images come from the shared cache.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { HypervisorClient, type DisplayFrame } from '../src/api/index.ts';
import { loadConfig, type HypervisorConfig } from '../src/config.ts';
import { ControlServer } from '../src/host/control-server.ts';
import { Host } from '../src/host/host.ts';

export interface TestHypervisor {
  host: Host;
  client: HypervisorClient;
  config: HypervisorConfig;
  url: string;
  close(): Promise<void>;
}

export async function startTestHypervisor(
  overrides: Partial<HypervisorConfig> = {},
): Promise<TestHypervisor> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-hv-'));
  const config: HypervisorConfig = {
    ...loadConfig({ ...process.env, HYPERVISOR_SECRET: 'test-secret-123' }),
    dataDir,
    port: 0,
    ...overrides,
  };
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const host = new Host(config, log);
  const server = new ControlServer(host, log);
  const port = await server.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const client = new HypervisorClient({ url, secret: config.secret, timeoutMs: 10 * 60_000 });
  await client.connected();
  return {
    host,
    client,
    config: { ...config, port },
    url,
    async close() {
      client.close();
      await host.shutdown();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Collects display frames of one domain that arrive through a client. */
export class FrameRecorder {
  readonly frames: DisplayFrame[] = [];
  private readonly listener = (frame: DisplayFrame) => {
    if (frame.domainId === this.domainId) this.frames.push(frame);
  };
  constructor(
    private readonly client: HypervisorClient,
    private readonly domainId: string,
  ) {
    client.socket.on('display:frame', this.listener);
  }
  stop(): void {
    this.client.socket.off('display:frame', this.listener);
  }
  async waitFor(predicate: (frame: DisplayFrame) => boolean, timeoutMs: number): Promise<DisplayFrame> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    while (Date.now() < deadline) {
      for (; seen < this.frames.length; seen++) {
        const frame = this.frames[seen]!;
        if (predicate(frame)) return frame;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no matching frame within ${timeoutMs} ms (${this.frames.length} frames seen)`);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
