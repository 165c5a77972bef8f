// Test harness: a gateway wired to a FakeHypervisor, token minting and a typed viewer client.
import { randomUUID } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import pino from 'pino';
import { createGateway, type Gateway } from '../src/server.ts';
import { mintAttachToken } from '../src/auth/attach-token.ts';
import {
  isImageRect,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from '../src/protocol/browser.ts';
import type { AttachGrant } from '../src/protocol/internal.ts';
import { FakeHypervisor } from './fake-hypervisor.ts';

export const SECRETS = {
  gateway: 'test-gateway-secret-0123456789',
  attach: 'test-attach-token-secret-0123456789abcdef',
  hypervisor: 'test-hypervisor-secret',
};

export type ViewerClient = Socket<ServerToClientEvents, ClientToServerEvents> & { rec: Recorder };

/** Buffers every server event from creation on, so tests never miss one that came early. */
export class Recorder {
  private readonly queues = new Map<string, unknown[]>();
  private readonly waiters = new Map<string, Array<(v: unknown) => void>>();
  push(event: string, value: unknown): void {
    const waiting = this.waiters.get(event);
    if (waiting?.length) return waiting.shift()!(value);
    const q = this.queues.get(event) ?? [];
    q.push(value);
    this.queues.set(event, q);
  }
  next<T = unknown>(event: string, timeoutMs = 5000): Promise<T> {
    const q = this.queues.get(event);
    if (q?.length) return Promise.resolve(q.shift() as T);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(event) ?? [];
      const timer = setTimeout(() => {
        list.splice(list.indexOf(done), 1);
        reject(new Error(`timed out waiting for ${event}`));
      }, timeoutMs);
      const done = (v: unknown) => {
        clearTimeout(timer);
        resolve(v as T);
      };
      list.push(done);
      this.waiters.set(event, list);
    });
  }
  clear(event: string): void {
    this.queues.delete(event);
  }
}

export interface Harness {
  hv: FakeHypervisor;
  gateway: Gateway;
  url: string;
  token(grant?: Partial<AttachGrant>): Promise<string>;
  client(grant?: Partial<AttachGrant>, extra?: { clientId?: string; token?: string }): ViewerClient;
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    fps?: number;
    lingerMs?: number;
    portal?: string;
    /** Record sessions whose policy says so into this folder; absent: such sessions are refused. */
    recordingDir?: string;
  } = {},
): Promise<Harness> {
  const hv = new FakeHypervisor(SECRETS.hypervisor, options.fps ?? 30);
  const hvUrl = await hv.listen();
  hv.addVm('vm-1');
  hv.addVm('vm-2', 320, 200, 'text');
  const gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: SECRETS.gateway,
      attachTokenSecret: SECRETS.attach,
      hypervisorUrl: hvUrl,
      hypervisorSecret: SECRETS.hypervisor,
      portalInternalUrl: options.portal ?? null,
      allowedOrigins: [],
      logLevel: 'silent',
      ...(options.recordingDir
        ? {
            recording: {
              dir: options.recordingDir,
              retentionDays: 0,
              maxTotalBytes: 0,
              keyframeMs: 1_000,
              input: true,
            },
          }
        : {}),
    },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    feedLingerMs: options.lingerMs ?? 200,
  });
  const { url } = await gateway.listen(0, '127.0.0.1');
  const clients: ViewerClient[] = [];
  const token = (grant: Partial<AttachGrant> = {}) =>
    mintAttachToken(SECRETS.attach, {
      sub: 'user-1',
      vm: 'vm-1',
      mode: 'control',
      name: 'Ada',
      role: 'user',
      ...grant,
    });
  return {
    hv,
    gateway,
    url,
    token,
    client(grant = {}, extra = {}) {
      const socket = connect(url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        // socket.io ignores what this returns: hand the token to cb once it is minted.
        auth: (cb) =>
          void (extra.token !== undefined ? Promise.resolve(extra.token) : token(grant)).then(
            (signed) =>
              cb({ token: signed, clientId: extra.clientId ?? randomUUID(), protocol: 1 }),
          ),
      }) as ViewerClient;
      socket.rec = new Recorder();
      socket.onAny((event: string, value: unknown) => socket.rec.push(event, value));
      socket.on('connect_error', (e) => socket.rec.push('connect_error', e));
      socket.on('disconnect', (r) => socket.rec.push('disconnect', r));
      clients.push(socket);
      return socket;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await gateway.close();
      await hv.close();
    },
  };
}

/** Next `event` received by the client (buffered since the client was created). */
export function once<T = unknown>(
  socket: ViewerClient,
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return socket.rec.next<T>(event, timeoutMs);
}

export function until(
  predicate: () => boolean,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs)
        return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects display updates and acks each last part, like the viewer does. */
export function autoAck(socket: ViewerClient, ack = true) {
  const state = {
    frames: 0,
    parts: 0,
    bytes: 0,
    full: 0,
    last: null as null | { width: number; height: number },
  };
  socket.on('display:update', (u) => {
    state.parts++;
    for (const r of u.rects) state.bytes += isImageRect(r) ? r.data.byteLength : 24;
    if (u.last) {
      state.frames++;
      if (u.full) state.full++;
      state.last = { width: u.width, height: u.height };
      if (ack) socket.emit('frame:ack', { seq: u.seq });
    }
  });
  return state;
}
