// A gateway of a fleet registers in the fleet's PostgreSQL (the GatewayNode row: id, the URL the
// portal's proxy reaches it at, live session count) and heartbeats every few seconds. The portal
// hands each viewer the least loaded live gateway and proxies /gateway/<id>/socket.io to its URL.
// A clean stop removes the row; a gateway that dies stops heartbeating and is skipped.
import { createDb, type Db } from '@raydesk/db';
import type { Logger } from 'pino';

export interface GatewayHeartbeatOptions {
  databaseUrl: string;
  gatewayId: string;
  url: string;
  intervalMs: number;
  sessions: () => number;
  log: Logger;
}

export class GatewayHeartbeat {
  private readonly db: Db;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private failing = false;

  constructor(private readonly options: GatewayHeartbeatOptions) {
    this.db = createDb(options.databaseUrl);
  }

  /** Registers now (resolves after the first write, failed or not), then repeats. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.intervalMs);
    this.timer.unref();
  }

  beat(): Promise<void> {
    this.beating ??= this.write().finally(() => (this.beating = null));
    return this.beating;
  }

  private async write(): Promise<void> {
    const { gatewayId, url, log } = this.options;
    const fields = { url, sessions: this.options.sessions(), lastHeartbeatAt: new Date() };
    try {
      await this.db.gatewayNode.upsert({
        where: { id: gatewayId },
        create: { id: gatewayId, ...fields },
        update: fields,
      });
      if (this.failing) log.info({ gatewayId }, 'gateway heartbeat written again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) log.warn({ gatewayId, err: String(error) }, 'gateway heartbeat failed');
      this.failing = true;
    }
  }

  /** Stops heartbeating and leaves the registry (a clean stop). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    await this.db.gatewayNode
      .deleteMany({ where: { id: this.options.gatewayId } })
      .catch(() => undefined);
    await this.db.$disconnect();
  }
}
