// Integration-test helpers: a real hypervisor in-process with a connected client.
import { HypervisorClient, type DisplayFrame } from '../src/api/index.ts';
import type { HypervisorConfig } from '../src/config.ts';
import { startEphemeralHypervisor, type Host } from '../src/host/index.ts';

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
  const running = await startEphemeralHypervisor(overrides);
  const client = new HypervisorClient({
    url: running.url,
    secret: running.config.secret,
    timeoutMs: 10 * 60_000,
  });
  await client.connected();
  return {
    host: running.host,
    client,
    config: running.config,
    url: running.url,
    async close() {
      client.close();
      await running.close();
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
  async waitFor(
    predicate: (frame: DisplayFrame) => boolean,
    timeoutMs: number,
  ): Promise<DisplayFrame> {
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
