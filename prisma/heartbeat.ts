// The heartbeat loop of a fleet member (a hypervisor host, a gateway): one registry write now,
// then every `intervalMs`, never two at once; a failure is logged once until a write succeeds.
// What is written, and what a clean stop leaves behind, belong to the member.
import type { Logger } from 'pino';

export interface HeartbeatOptions {
  /** Named in the log lines, e.g. "gateway heartbeat". */
  name: string;
  intervalMs: number;
  /** Writes one heartbeat (throws on failure). */
  write: () => Promise<void>;
  log: Logger;
  /** Fields for the log lines, e.g. `{ hostId }`. */
  logFields: Record<string, unknown>;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private failing = false;

  constructor(private readonly options: HeartbeatOptions) {}

  /** Writes now (resolves after the first write, failed or not), then repeats. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.intervalMs);
    this.timer.unref();
  }

  beat(): Promise<void> {
    this.beating ??= this.writeOnce().finally(() => (this.beating = null));
    return this.beating;
  }

  /** Stops the loop once the write in flight (if any) has ended. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
  }

  private async writeOnce(): Promise<void> {
    const { name, log, logFields } = this.options;
    try {
      await this.options.write();
      if (this.failing) log.info(logFields, `${name} written again`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) log.warn({ ...logFields, err: error }, `${name} failed`);
      this.failing = true;
    }
  }
}
