// Worker side of host-to-guest port forwards: the domain worker keeps one WebSocket to the
// host's switch (forward-protocol.ts) and, for each stream the switch opens, connects to the
// guest port from the fake router's address (guest-tcp.ts) and relays bytes both ways.
import { WebSocket } from 'ws';
import {
  decodeForwardFrame,
  encodeForwardFrame,
  FORWARD_MAX_DATA,
  type ForwardFrame,
} from './forward-protocol.ts';
import { GuestTcpConnection, type V86NetworkAdapter } from './guest-tcp.ts';

/** Bytes queued for the guest before the switch is asked to stop reading the host side. */
const QUEUE_HIGH_WATER = 256 * 1024;
const QUEUE_LOW_WATER = 64 * 1024;
const RECONNECT_MS = 1_000;
const MAX_STREAMS = 256;

interface Stream {
  connection: GuestTcpConnection;
  /** We asked the switch to pause its reads of the host client. */
  hostPaused: boolean;
}

export class GuestForwardEndpoint {
  private socket: WebSocket | null = null;
  private readonly streams = new Map<number, Stream>();
  private stopped = false;

  constructor(
    private readonly adapter: V86NetworkAdapter,
    private readonly url: string,
  ) {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    for (const id of [...this.streams.keys()]) this.drop(id);
  }

  private connect(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: 1 << 20 });
    this.socket = socket;
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data: Buffer) => {
      const frame = decodeForwardFrame(data);
      // A malformed frame means a broken switch: close the channel, the switch sees that.
      if (!frame) socket.close(1002, 'malformed frame');
      else this.handle(frame);
    });
    socket.on('close', () => {
      for (const id of [...this.streams.keys()]) this.drop(id);
      if (this.socket === socket) this.socket = null;
      if (!this.stopped) setTimeout(() => this.connect(), RECONNECT_MS).unref();
    });
    // 'close' follows every error; a worker must never die of its network.
    socket.on('error', () => undefined);
  }

  private send(frame: ForwardFrame): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(encodeForwardFrame(frame));
  }

  private handle(frame: ForwardFrame): void {
    if (frame.type === 'open') {
      this.open(frame.stream, frame.port);
      return;
    }
    const stream = this.streams.get(frame.stream);
    if (!stream) return; // already closed on this side; its CLOSE is on the way
    const { connection } = stream;
    switch (frame.type) {
      case 'data':
        connection.write(frame.data);
        if (!stream.hostPaused && connection.queuedBytes > QUEUE_HIGH_WATER) {
          stream.hostPaused = true;
          this.send({ type: 'pause', stream: frame.stream });
        }
        break;
      case 'end':
        connection.end();
        break;
      case 'close':
        connection.destroy();
        this.streams.delete(frame.stream);
        break;
      case 'pause':
        connection.setReceiving(false);
        break;
      case 'resume':
        connection.setReceiving(true);
        break;
      case 'opened':
        break; // only the worker sends it
    }
  }

  private open(id: number, port: number): void {
    if (this.streams.has(id) || this.streams.size >= MAX_STREAMS) {
      this.send({ type: 'close', stream: id, reason: 'aborted' });
      return;
    }
    let connection: GuestTcpConnection;
    try {
      connection = new GuestTcpConnection(this.adapter, port);
    } catch {
      this.send({ type: 'close', stream: id, reason: 'aborted' });
      return;
    }
    const stream: Stream = { connection, hostPaused: false };
    this.streams.set(id, stream);
    connection
      .on('open', () => this.send({ type: 'opened', stream: id }))
      .on('data', (bytes) => {
        for (let i = 0; i < bytes.length; i += FORWARD_MAX_DATA)
          this.send({ type: 'data', stream: id, data: bytes.subarray(i, i + FORWARD_MAX_DATA) });
      })
      .on('end', () => this.send({ type: 'end', stream: id }))
      .on('drain', () => {
        if (stream.hostPaused && connection.queuedBytes < QUEUE_LOW_WATER) {
          stream.hostPaused = false;
          this.send({ type: 'resume', stream: id });
        }
      })
      .on('close', (reason) => {
        this.streams.delete(id);
        this.send({ type: 'close', stream: id, reason });
      });
    connection.connect();
  }

  private drop(id: number): void {
    this.streams.get(id)?.connection.destroy();
    this.streams.delete(id);
  }
}
