// The gateways of a fleet share one socket.io cluster through Redis (@socket.io/redis-adapter), so
// what concerns a socket held by another gateway reaches it: a takeover (a second control viewer
// of a VM attached elsewhere) and an administrator's disconnect. The session list the portal shows
// is gathered from every gateway the same way. Messages from peers are validated like any other
// input crossing a process boundary.
import { createAdapter } from '@socket.io/redis-adapter';
import type { Logger } from 'pino';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { z } from 'zod';
import { vmIdSchema } from '../protocol/browser.ts';
import { sessionInfoSchema, type SessionInfo } from '../protocol/internal.ts';
import type { SessionManager } from '../sessions/manager.ts';

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A control session of `vm` opened on another gateway: end ours (resumed if the same viewer). */
export const peerTakeoverSchema = z.object({
  vm: vmIdSchema,
  clientId: z.string().max(200).nullable(),
  by: z.string().max(200),
});
export type PeerTakeover = z.infer<typeof peerTakeoverSchema>;

export const peerDisconnectSchema = z.object({
  sessionId: z.string().regex(SESSION_ID_PATTERN),
  message: z.string().max(200),
});
export type PeerDisconnect = z.infer<typeof peerDisconnectSchema>;

/** Events between gateways (socket.io's server-side events, carried by the Redis adapter). */
export interface PeerEvents {
  'fleet:takeover': (message: unknown) => void;
  'fleet:disconnect': (message: unknown, ack: (ended: boolean) => void) => void;
  'fleet:sessions': (ack: (sessions: unknown) => void) => void;
}

/** How long a gateway waits for its peers' answers. */
export const PEER_TIMEOUT_MS = 3_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PeerServer = Server<any, any, PeerEvents, any>;

export class GatewayPeers {
  private constructor(
    private readonly io: PeerServer,
    private readonly gatewayId: string,
    private readonly clients: ReturnType<typeof createClient>[],
    private readonly log: Logger,
  ) {}

  /** Connects to Redis, puts the adapter on `io` and answers the peers' requests. */
  static async join(options: {
    io: PeerServer;
    sessions: SessionManager;
    gatewayId: string;
    redisUrl: string;
    log: Logger;
  }): Promise<GatewayPeers> {
    const { io, sessions, log } = options;
    const pub = createClient({ url: options.redisUrl });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) {
      // The client reconnects by itself; without a listener an error would crash the gateway.
      client.on('error', (error: unknown) => log.warn({ err: String(error) }, 'redis error'));
    }
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: 'raydesk', requestsTimeout: PEER_TIMEOUT_MS }));

    io.on('fleet:takeover', (raw) => {
      const message = peerTakeoverSchema.safeParse(raw);
      if (!message.success) return;
      sessions.takeOverFromPeer(message.data.vm, message.data.clientId, message.data.by);
    });
    io.on('fleet:disconnect', (raw, ack) => {
      const message = peerDisconnectSchema.safeParse(raw);
      const ended = message.success
        ? sessions.disconnect(message.data.sessionId, message.data.message)
        : false;
      if (typeof ack === 'function') ack(ended);
    });
    io.on('fleet:sessions', (ack) => {
      if (typeof ack !== 'function') return;
      ack(sessions.list().map((s) => ({ ...s, gateway: options.gatewayId })));
    });
    return new GatewayPeers(io, options.gatewayId, [pub, sub], log);
  }

  /** Tells the other gateways that a control session of `vm` began here. */
  takeover(message: PeerTakeover): void {
    this.io.serverSideEmit('fleet:takeover', message);
  }

  /** Asks the other gateways to end a session this one does not hold. */
  async disconnect(message: PeerDisconnect): Promise<boolean> {
    try {
      const answers = await this.io.serverSideEmitWithAck('fleet:disconnect', message);
      return answers.some((ended) => ended === true);
    } catch (error) {
      this.log.warn({ err: String(error) }, 'peers did not answer a disconnect');
      return false;
    }
  }

  /** The sessions the other gateways hold (those that answer in time). */
  async sessions(): Promise<SessionInfo[]> {
    let answers: unknown[];
    try {
      answers = await this.io.serverSideEmitWithAck('fleet:sessions');
    } catch (error) {
      this.log.warn({ err: String(error) }, 'peers did not list their sessions in time');
      return [];
    }
    const list = z.array(sessionInfoSchema);
    return answers.flatMap((answer) => {
      const parsed = list.safeParse(answer);
      return parsed.success ? parsed.data : [];
    });
  }

  get id(): string {
    return this.gatewayId;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((client) => client.quit()));
  }
}
