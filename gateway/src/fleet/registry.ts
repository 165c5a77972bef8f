// A gateway of a fleet registers in the fleet's PostgreSQL (the GatewayNode row: id, the URL the
// portal's proxy reaches it at, live session count) and heartbeats every few seconds. The portal
// hands each viewer the least loaded live gateway and proxies /gateway/<id>/socket.io to its URL.
// A clean stop removes the row; a gateway that dies stops heartbeating and is skipped.
import { createDb, type Db } from '@raydesk/db';
import { Heartbeat } from '@raydesk/db/heartbeat';
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
  private readonly loop: Heartbeat;

  constructor(private readonly options: GatewayHeartbeatOptions) {
    this.db = createDb(options.databaseUrl);
    const { gatewayId, url } = options;
    this.loop = new Heartbeat({
      name: 'gateway heartbeat',
      intervalMs: options.intervalMs,
      log: options.log,
      logFields: { gatewayId },
      write: async () => {
        const fields = { url, sessions: options.sessions(), lastHeartbeatAt: new Date() };
        await this.db.gatewayNode.upsert({
          where: { id: gatewayId },
          create: { id: gatewayId, ...fields },
          update: fields,
        });
      },
    });
  }

  /** Registers now (resolves after the first write, failed or not), then repeats. */
  start(): Promise<void> {
    return this.loop.start();
  }

  beat(): Promise<void> {
    return this.loop.beat();
  }

  /** Stops heartbeating and leaves the registry (a clean stop). */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.db.gatewayNode
      .deleteMany({ where: { id: this.options.gatewayId } })
      .catch(() => undefined);
    await this.db.$disconnect();
  }
}
