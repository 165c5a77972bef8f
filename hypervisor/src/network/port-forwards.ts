// Host side of host-to-guest port forwards, owned by the virtual switch: a listening socket per
// forward (loopback unless asked otherwise) and, per running VM, the channel its worker opened
// (forward-protocol.ts). Each accepted connection becomes a stream on that channel; the worker
// connects to the guest port. Forwards end with the VM's network: when it stops, is suspended,
// crashes or boots again. Opening, closing and every connection are logged (the audit trail).
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Duplex } from 'node:stream';
import type pino from 'pino';
import type { WebSocket } from 'ws';
import type { ListenAddress, PortForwardInfo } from '../api/protocol.ts';
import {
  decodeForwardFrame,
  encodeForwardFrame,
  FORWARD_MAX_DATA,
  type ForwardCloseReason,
  type ForwardFrame,
} from './forward-protocol.ts';

const MAX_FORWARDS_PER_DOMAIN = 8;
const MAX_CONNECTIONS_PER_FORWARD = 16;
/** How long the guest has to accept a forwarded connection. */
const OPEN_TIMEOUT_MS = 15_000;
/** Bytes waiting for a slow host client before the worker is asked to stop reading the guest. */
const CLIENT_HIGH_WATER = 1 << 20;
/** A VM that just started connects its channel within moments. */
const CHANNEL_WAIT_MS = 10_000;

/** A forward request the host cannot carry out, with the control channel's error code. */
export class ForwardError extends Error {
  constructor(
    readonly code: 'bad_request' | 'not_found' | 'illegal_transition',
    message: string,
  ) {
    super(message);
    this.name = 'ForwardError';
  }
}

/** The host side of one stream: a client's TCP socket, or one end of a host-internal pair. */
type HostSide = Duplex & { remoteAddress?: string; remotePort?: number };

interface PortForward {
  domainId: string;
  guestPort: number;
  listen: ListenAddress;
  server: Server;
  openedAt: string;
  sockets: Set<HostSide>;
  total: number;
  bytesToGuest: number;
  bytesFromGuest: number;
}

/** What a stream needs of its forward (a host-internal stream has no listener). */
type StreamOrigin = Omit<PortForward, 'server' | 'openedAt'>;

interface HostStream {
  socket: HostSide;
  forward: StreamOrigin;
  opened: boolean;
  /** We asked the worker to stop sending (the client reads slowly). */
  guestPaused: boolean;
  timer: NodeJS.Timeout | null;
}

interface Channel {
  ws: WebSocket;
  streams: Map<number, HostStream>;
  nextStream: number;
}

export const formatListen = (l: ListenAddress) =>
  l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;

export class PortForwards {
  private readonly channels = new Map<string, Channel>();
  private readonly forwards = new Map<string, PortForward[]>();
  private readonly channelWaiters = new Map<string, Set<() => void>>();

  constructor(private readonly log: pino.Logger) {}

  /** The worker of a (re)booted VM connected; streams of an older channel are gone. */
  attachChannel(domainId: string, ws: WebSocket): void {
    this.detachChannel(domainId);
    const channel: Channel = { ws, streams: new Map(), nextStream: 1 };
    this.channels.set(domainId, channel);
    ws.on('message', (data: Buffer) => {
      const frame = decodeForwardFrame(data);
      if (!frame || frame.type === 'open') {
        this.log.warn({ domain: domainId }, 'port-forward channel sent a malformed frame');
        ws.terminate();
        return;
      }
      this.fromWorker(channel, frame);
    });
    ws.on('close', () => {
      if (this.channels.get(domainId) === channel) this.detachChannel(domainId);
    });
    for (const wake of this.channelWaiters.get(domainId) ?? []) wake();
  }

  /**
   * Opens a forward for a domain whose network is attached; `attached` says whether it is (its
   * worker may still be connecting its channel, which is waited for).
   */
  async open(
    domainId: string,
    guestPort: number,
    listen: ListenAddress,
    attached: () => boolean,
  ): Promise<PortForwardInfo> {
    if (attached() && !this.channels.has(domainId)) await this.channelOf(domainId);
    if (!attached() || !this.channels.has(domainId))
      throw new ForwardError(
        'illegal_transition',
        `domain ${domainId} has no running network to forward into`,
      );
    const existing = this.forwards.get(domainId) ?? [];
    if (existing.length >= MAX_FORWARDS_PER_DOMAIN)
      throw new ForwardError(
        'bad_request',
        `domain ${domainId} already has ${MAX_FORWARDS_PER_DOMAIN} port forwards`,
      );
    // Half-open allowed: a client's FIN is passed on to the guest, which may still answer.
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new ForwardError(
            'bad_request',
            `cannot listen on ${formatListen(listen)}: ${error.code ?? error.message}`,
          ),
        ),
      );
      server.listen(listen.port, listen.host, () => resolve());
    });
    const forward: PortForward = {
      domainId,
      guestPort,
      listen: { host: listen.host, port: (server.address() as AddressInfo).port },
      server,
      openedAt: new Date().toISOString(),
      sockets: new Set(),
      total: 0,
      bytesToGuest: 0,
      bytesFromGuest: 0,
    };
    server.on('connection', (socket) => this.accept(forward, socket));
    server.on('error', (error) =>
      this.log.warn({ domain: domainId, err: error }, 'port-forward listener error'),
    );
    this.forwards.set(domainId, [...(this.forwards.get(domainId) ?? []), forward]);
    const loopback = listen.host === '127.0.0.1' || listen.host === '::1';
    this.log[loopback ? 'info' : 'warn'](
      {
        audit: 'port-forward',
        domain: domainId,
        guestPort,
        listen: formatListen(forward.listen),
        loopback,
      },
      'port forward opened',
    );
    return info(forward);
  }

  /** Closes the domain's forward listening on `port` (and `host`, when given). */
  close(domainId: string, listen: { host?: string; port: number }): PortForwardInfo {
    const forward = (this.forwards.get(domainId) ?? []).find(
      (f) => f.listen.port === listen.port && (!listen.host || f.listen.host === listen.host),
    );
    if (!forward)
      throw new ForwardError(
        'not_found',
        `domain ${domainId} has no port forward on ${listen.host ? formatListen({ host: listen.host, port: listen.port }) : `port ${listen.port}`}`,
      );
    this.end(forward, 'closed by request');
    return info(forward);
  }

  /**
   * A stream to `guestPort` of the domain's guest for the host itself (file transfer), without
   * a listening socket: resolves once the guest accepted; rejects when it refused or has no
   * running network.
   */
  async connect(domainId: string, guestPort: number, attached: () => boolean): Promise<Duplex> {
    if (attached() && !this.channels.has(domainId)) await this.channelOf(domainId);
    if (!attached() || !this.channels.has(domainId))
      throw new ForwardError(
        'illegal_transition',
        `domain ${domainId} has no running network to connect to`,
      );
    const [ours, theirs] = duplexPair();
    const origin: StreamOrigin = {
      domainId,
      guestPort,
      listen: { host: 'host', port: 0 },
      sockets: new Set(),
      total: 0,
      bytesToGuest: 0,
      bytesFromGuest: 0,
    };
    return new Promise<Duplex>((resolve, reject) => {
      const opened = () => {
        theirs.off('close', refused);
        resolve(ours);
      };
      const refused = () => {
        ours.destroy();
        reject(new ForwardError('bad_request', `guest port ${guestPort} refused the connection`));
      };
      theirs.once('opened', opened);
      theirs.once('close', refused);
      this.accept(origin, theirs);
    });
  }

  list(domainId: string): PortForwardInfo[] {
    return (this.forwards.get(domainId) ?? []).map(info);
  }

  /** The VM's network went away: every forward of it closes, with its connections. */
  closeDomain(domainId: string, why: string): void {
    for (const forward of [...(this.forwards.get(domainId) ?? [])]) this.end(forward, why);
    this.detachChannel(domainId);
  }

  closeAll(): void {
    for (const domainId of [...new Set([...this.forwards.keys(), ...this.channels.keys()])])
      this.closeDomain(domainId, 'the host is shutting down');
  }

  private end(forward: PortForward, why: string): void {
    const list = this.forwards.get(forward.domainId) ?? [];
    this.forwards.set(
      forward.domainId,
      list.filter((f) => f !== forward),
    );
    if (this.forwards.get(forward.domainId)?.length === 0) this.forwards.delete(forward.domainId);
    forward.server.close();
    for (const socket of forward.sockets) socket.destroy();
    this.log.info(
      {
        audit: 'port-forward',
        domain: forward.domainId,
        guestPort: forward.guestPort,
        listen: formatListen(forward.listen),
        connections: forward.total,
        bytesToGuest: forward.bytesToGuest,
        bytesFromGuest: forward.bytesFromGuest,
        why,
      },
      'port forward closed',
    );
  }

  private channelOf(domainId: string): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.channelWaiters.get(domainId) ?? new Set();
      this.channelWaiters.set(domainId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.channelWaiters.delete(domainId);
        resolve();
      };
      const timer = setTimeout(done, CHANNEL_WAIT_MS);
      waiters.add(done);
    });
  }

  private detachChannel(domainId: string): void {
    const channel = this.channels.get(domainId);
    if (!channel) return;
    this.channels.delete(domainId);
    for (const stream of channel.streams.values()) this.finish(stream, null);
    channel.streams.clear();
    channel.ws.terminate();
  }

  private accept(forward: StreamOrigin, socket: HostSide): void {
    const remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'host';
    const channel = this.channels.get(forward.domainId);
    if (!channel || forward.sockets.size >= MAX_CONNECTIONS_PER_FORWARD) {
      this.log.warn(
        { domain: forward.domainId, listen: formatListen(forward.listen), remote },
        channel ? 'port-forward connection refused: too many' : 'port-forward connection refused',
      );
      socket.destroy();
      return;
    }
    const id = channel.nextStream++;
    const stream: HostStream = { socket, forward, opened: false, guestPaused: false, timer: null };
    channel.streams.set(id, stream);
    forward.sockets.add(socket);
    forward.total += 1;
    this.log.info(
      {
        audit: 'port-forward',
        domain: forward.domainId,
        guestPort: forward.guestPort,
        listen: formatListen(forward.listen),
        remote,
      },
      'port-forward connection',
    );
    socket.pause(); // until the guest accepted
    socket.on('data', (chunk: Buffer) => {
      forward.bytesToGuest += chunk.length;
      for (let i = 0; i < chunk.length; i += FORWARD_MAX_DATA)
        this.toWorker(channel, {
          type: 'data',
          stream: id,
          data: chunk.subarray(i, i + FORWARD_MAX_DATA),
        });
    });
    socket.on('end', () => this.toWorker(channel, { type: 'end', stream: id }));
    socket.on('drain', () => {
      if (stream.guestPaused) {
        stream.guestPaused = false;
        this.toWorker(channel, { type: 'resume', stream: id });
      }
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (channel.streams.get(id) === stream) {
        channel.streams.delete(id);
        this.toWorker(channel, { type: 'close', stream: id, reason: 'closed' });
        this.finish(stream, null);
      }
    });
    stream.timer = setTimeout(() => {
      if (stream.opened) return;
      channel.streams.delete(id);
      this.toWorker(channel, { type: 'close', stream: id, reason: 'timeout' });
      this.finish(stream, 'timeout');
    }, OPEN_TIMEOUT_MS);
    this.toWorker(channel, { type: 'open', stream: id, port: forward.guestPort });
  }

  private fromWorker(channel: Channel, frame: Exclude<ForwardFrame, { type: 'open' }>): void {
    const stream = channel.streams.get(frame.stream);
    if (!stream) return;
    const { socket, forward } = stream;
    switch (frame.type) {
      case 'opened':
        stream.opened = true;
        if (stream.timer) clearTimeout(stream.timer);
        socket.resume();
        socket.emit('opened');
        break;
      case 'data':
        forward.bytesFromGuest += frame.data.length;
        socket.write(frame.data);
        if (!stream.guestPaused && socket.writableLength > CLIENT_HIGH_WATER) {
          stream.guestPaused = true;
          this.toWorker(channel, { type: 'pause', stream: frame.stream });
        }
        break;
      case 'end':
        socket.end();
        break;
      case 'close':
        channel.streams.delete(frame.stream);
        this.finish(stream, frame.reason);
        break;
      case 'pause':
        socket.pause();
        break;
      case 'resume':
        if (stream.opened) socket.resume();
        break;
    }
  }

  /** The stream is over on the guest side (`reason`) or on ours (null). */
  private finish(stream: HostStream, reason: ForwardCloseReason | null): void {
    if (stream.timer) clearTimeout(stream.timer);
    stream.forward.sockets.delete(stream.socket);
    if (reason && reason !== 'closed') {
      this.log.info(
        { domain: stream.forward.domainId, guestPort: stream.forward.guestPort, reason },
        'port-forward connection ended by the guest side',
      );
    }
    // A normal close from the guest lets queued bytes reach the client first.
    if (reason === 'closed') stream.socket.end();
    else stream.socket.destroy();
  }

  private toWorker(channel: Channel, frame: ForwardFrame): void {
    if (channel.ws.readyState === channel.ws.OPEN) channel.ws.send(encodeForwardFrame(frame));
  }
}

/**
 * Two connected in-memory duplex streams (what one end writes, the other reads), with
 * backpressure: a write completes once the other end's reader took it.
 */
export function duplexPair(): [Duplex, Duplex] {
  const ends: PairEnd[] = [new PairEnd(), new PairEnd()];
  ends[0]!.peer = ends[1]!;
  ends[1]!.peer = ends[0]!;
  return [ends[0]!, ends[1]!];
}

class PairEnd extends Duplex {
  peer!: PairEnd;
  private waiting: (() => void) | null = null;

  override _read(): void {
    const resume = this.peer.waiting;
    this.peer.waiting = null;
    resume?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    if (this.peer.push(chunk)) done();
    else this.waiting = done;
  }

  override _final(done: () => void): void {
    this.peer.push(null);
    done();
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    const resume = this.waiting;
    this.waiting = null;
    resume?.();
    if (!this.peer.destroyed) this.peer.destroy();
    done(error);
  }
}

function info(f: PortForward): PortForwardInfo {
  return {
    domainId: f.domainId,
    guestPort: f.guestPort,
    listen: { ...f.listen },
    openedAt: f.openedAt,
    connections: { open: f.sockets.size, total: f.total },
    bytesToGuest: f.bytesToGuest,
    bytesFromGuest: f.bytesFromGuest,
  };
}
