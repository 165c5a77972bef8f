// A TCP connection into the guest, opened from the fake router's address (192.168.86.1) inside
// the domain worker: the guest end of a host-to-guest port forward (guest-forward.ts).
//
// v86's fake network stack terminates the guest's own connections, but it has no way to open
// one towards the guest through the wisp adapter we use, and its TCP sender keeps one segment in
// flight and sends no MSS option (so Linux falls back to 536-byte segments). Here, v86 parses
// the guest's frames and routes them to us by their address tuple (`adapter.tcp_conn`), and
// this class does the rest of a TCP client: the handshake with an MSS, a sliding window that
// respects the guest's, acknowledgements, FIN both ways, RST, and a retransmission timer for
// the one loss this link has (v86 drops a frame when the guest's receive ring is full).

/** The parts of a frame v86 parsed from the guest that this connection reads. */
export interface V86TcpPacket {
  tcp: {
    seq: number;
    ackn: number;
    winsize: number;
    syn: boolean;
    ack: boolean;
    fin: boolean;
    rst: boolean;
  };
  tcp_data: Uint8Array;
}

/** The fields of v86's network adapter (fake_network.js) this connection uses. */
export interface V86NetworkAdapter {
  tcp_conn: Record<string, { process(packet: V86TcpPacket): void }>;
  vm_ip: Uint8Array;
  vm_mac: Uint8Array;
  router_ip: Uint8Array;
  router_mac: Uint8Array;
  /** Hands an Ethernet frame to the guest's NIC. */
  receive(frame: Uint8Array): void;
}

export type GuestTcpCloseReason = 'closed' | 'refused' | 'reset' | 'timeout';

export interface GuestTcpEvents {
  /** The guest accepted the connection. */
  open(): void;
  data(bytes: Uint8Array): void;
  /** The guest will send no more (its FIN); it may still read. */
  end(): void;
  /** The connection is gone; nothing is sent or delivered after this. */
  close(reason: GuestTcpCloseReason): void;
  /** Bytes written earlier were acknowledged; `queuedBytes` went down. */
  drain(): void;
}

const MSS = 1460; // the guest's MTU is 1500
/** Our receive window (no window scaling is offered, so at most 65535). */
const RECEIVE_WINDOW = 65535;
/** Most unacknowledged bytes in flight, within the guest's window. */
const MAX_IN_FLIGHT = 32 * 1024;
const RETRANSMIT_MS = 500;
const CONNECT_TIMEOUT_MS = 10_000;
/** Give up when the guest acknowledged nothing for this long while data was outstanding. */
const STALL_TIMEOUT_MS = 30_000;
const DYNAMIC_PORTS = { first: 49152, count: 16384 };

const FLAG = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

/** Signed distance from b to a in 32-bit sequence space. */
const seqDiff = (a: number, b: number) => (a - b) | 0;
const seqAdd = (a: number, n: number) => (a + n) >>> 0;

export interface TcpSegment {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Maximum segment size option (SYN only). */
  mss?: number;
  payload?: Uint8Array;
  ipId: number;
}

/** The internet checksum (RFC 1071) of `bytes`, continuing from `sum`. */
export function internetChecksum(bytes: Uint8Array, sum = 0): number {
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2) sum += bytes[bytes.length - 1]! << 8;
  while (sum >>> 16) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet frame carrying one IPv4 TCP segment, checksums filled in. */
export function buildTcpFrame(s: TcpSegment): Uint8Array {
  const options = s.mss === undefined ? 0 : 4;
  const payload = s.payload ?? new Uint8Array(0);
  const tcpLength = 20 + options + payload.length;
  const frame = new Uint8Array(14 + 20 + tcpLength);
  const view = new DataView(frame.buffer);
  frame.set(s.dstMac, 0);
  frame.set(s.srcMac, 6);
  view.setUint16(12, 0x0800);
  // IPv4 header
  view.setUint8(14, 0x45);
  view.setUint16(16, 20 + tcpLength);
  view.setUint16(18, s.ipId & 0xffff);
  view.setUint16(20, 0x4000); // don't fragment
  view.setUint8(22, 64); // TTL
  view.setUint8(23, 6); // TCP
  frame.set(s.srcIp, 26);
  frame.set(s.dstIp, 30);
  view.setUint16(24, internetChecksum(frame.subarray(14, 34)));
  // TCP header
  const t = 34;
  view.setUint16(t, s.srcPort);
  view.setUint16(t + 2, s.dstPort);
  view.setUint32(t + 4, s.seq >>> 0);
  view.setUint32(t + 8, s.ack >>> 0);
  view.setUint8(t + 12, ((20 + options) / 4) << 4);
  view.setUint8(t + 13, s.flags);
  view.setUint16(t + 14, s.window);
  if (s.mss !== undefined) {
    view.setUint8(t + 20, 2);
    view.setUint8(t + 21, 4);
    view.setUint16(t + 22, s.mss);
  }
  frame.set(payload, t + 20 + options);
  const pseudo = new Uint8Array(12);
  pseudo.set(s.srcIp, 0);
  pseudo.set(s.dstIp, 4);
  pseudo[9] = 6;
  pseudo[10] = tcpLength >> 8;
  pseudo[11] = tcpLength & 0xff;
  const pseudoSum = (0xffff & ~internetChecksum(pseudo)) >>> 0;
  view.setUint16(t + 16, internetChecksum(frame.subarray(t), pseudoSum));
  return frame;
}

type State = 'new' | 'syn-sent' | 'established' | 'closed';

/** A local port no connection of this adapter uses towards `guestPort`, and its v86 tuple. */
function freeLocalPort(
  adapter: V86NetworkAdapter,
  guestPort: number,
): { port: number; tuple: string } {
  const ip = (bytes: Uint8Array) => bytes.join('.');
  const start = Math.floor(Math.random() * DYNAMIC_PORTS.count);
  for (let i = 0; i < DYNAMIC_PORTS.count; i++) {
    const port = DYNAMIC_PORTS.first + ((start + i) % DYNAMIC_PORTS.count);
    // v86 keys a connection by the guest's view: its address and port, then ours.
    const tuple = `${ip(adapter.vm_ip)}:${guestPort}:${ip(adapter.router_ip)}:${port}`;
    if (!adapter.tcp_conn[tuple]) return { port, tuple };
  }
  throw new Error('no free local port for a connection into the guest');
}

export class GuestTcpConnection {
  /** Bytes written but not yet acknowledged by the guest. */
  queuedBytes = 0;
  private state: State = 'new';
  private readonly localPort: number;
  private readonly tuple: string;
  private readonly iss = (Math.random() * 0x100000000) >>> 0;
  private sndUna = 0;
  private sndNxt = 0;
  private sndWnd = 0;
  private rcvNxt = 0;
  private receiving = true;
  /** Unacknowledged and unsent bytes, oldest first; `queue[0]` starts at sndUna. */
  private readonly queue: Uint8Array[] = [];
  private finWanted = false;
  private finSent = false;
  private finAcked = false;
  private peerFin = false;
  private timer: NodeJS.Timeout | null = null;
  private lastProgress = 0;
  private ipId = 0;
  private readonly listeners: Partial<GuestTcpEvents> = {};

  constructor(
    private readonly adapter: V86NetworkAdapter,
    readonly guestPort: number,
  ) {
    ({ port: this.localPort, tuple: this.tuple } = freeLocalPort(adapter, guestPort));
  }

  on<E extends keyof GuestTcpEvents>(event: E, listener: GuestTcpEvents[E]): this {
    this.listeners[event] = listener;
    return this;
  }

  get isOpen(): boolean {
    return this.state === 'established';
  }

  /** Sends the SYN; `open` or `close` follows. */
  connect(): void {
    if (this.state !== 'new') return;
    this.adapter.tcp_conn[this.tuple] = this;
    this.state = 'syn-sent';
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.lastProgress = Date.now();
    this.sendSyn();
    this.armTimer();
  }

  write(data: Uint8Array): void {
    if (this.state === 'closed' || this.finWanted || data.length === 0) return;
    this.queue.push(data.slice());
    this.queuedBytes += data.length;
    this.flush();
  }

  /** Half-close: FIN once everything written so far is sent. */
  end(): void {
    if (this.state === 'closed' || this.finWanted) return;
    this.finWanted = true;
    this.flush();
  }

  /** Aborts the connection (RST to the guest); no `close` event follows. */
  destroy(): void {
    this.abort(null);
  }

  /** Flow control towards the guest: a closed window while the host side cannot take more. */
  setReceiving(open: boolean): void {
    if (this.receiving === open) return;
    this.receiving = open;
    if (this.state === 'established') this.sendAck();
  }

  /** Called by v86 for every segment the guest sends to this connection's tuple. */
  process(packet: V86TcpPacket): void {
    const { tcp } = packet;
    if (this.state === 'closed' || this.state === 'new') return;
    if (tcp.rst) {
      this.finish(this.state === 'syn-sent' ? 'refused' : 'reset');
      return;
    }
    if (this.state === 'syn-sent') {
      if (!(tcp.syn && tcp.ack) || tcp.ackn !== seqAdd(this.iss, 1)) {
        if (tcp.ack) this.send(FLAG.rst, tcp.ackn);
        return;
      }
      this.rcvNxt = seqAdd(tcp.seq, 1);
      this.sndUna = tcp.ackn;
      this.sndWnd = tcp.winsize;
      this.state = 'established';
      this.lastProgress = Date.now();
      this.sendAck();
      this.listeners.open?.();
      this.flush();
      return;
    }
    if (tcp.syn) {
      // Our ACK of its SYN+ACK was lost: acknowledge again.
      this.sendAck();
      return;
    }
    if (tcp.ack) this.acknowledge(tcp.ackn, tcp.winsize);
    if (this.state !== 'established') return;

    const data = packet.tcp_data;
    if (data.length > 0 || tcp.fin) {
      let ended = false;
      if (tcp.seq === this.rcvNxt && !this.peerFin) {
        if (data.length > 0) {
          this.rcvNxt = seqAdd(this.rcvNxt, data.length);
          // v86 reuses its frame buffer for the next frame: copy.
          this.listeners.data?.(data.slice());
          if (this.state !== 'established') return; // the listener destroyed it
        }
        if (tcp.fin) {
          this.rcvNxt = seqAdd(this.rcvNxt, 1);
          this.peerFin = ended = true;
        }
      }
      // In order or not (a retransmission, a keep-alive probe): say what we have.
      this.sendAck();
      if (ended) this.listeners.end?.();
      this.closeIfDone();
    }
    this.flush();
  }

  private acknowledge(ackn: number, window: number): void {
    const advanced = seqDiff(ackn, this.sndUna);
    if (advanced > 0 && seqDiff(ackn, this.sndNxt) <= 0) {
      let data = advanced;
      if (this.finSent && ackn === this.sndNxt) {
        this.finAcked = true;
        data -= 1;
      }
      this.dropAcked(Math.min(data, this.queuedBytes));
      this.sndUna = ackn;
      this.lastProgress = Date.now();
      if (data > 0) this.listeners.drain?.();
    }
    if (advanced >= 0) this.sndWnd = window;
    this.closeIfDone();
  }

  private dropAcked(bytes: number): void {
    this.queuedBytes -= bytes;
    while (bytes > 0 && this.queue.length) {
      const head = this.queue[0]!;
      if (head.length <= bytes) {
        bytes -= head.length;
        this.queue.shift();
      } else {
        this.queue[0] = head.subarray(bytes);
        bytes = 0;
      }
    }
  }

  /** `length` queued bytes starting `offset` bytes after sndUna. */
  private slice(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    for (const chunk of this.queue) {
      if (offset >= chunk.length) {
        offset -= chunk.length;
        continue;
      }
      const part = chunk.subarray(offset, offset + (length - filled));
      out.set(part, filled);
      filled += part.length;
      offset = 0;
      if (filled === length) break;
    }
    return out;
  }

  /** Sends what the window allows, then the FIN when everything is sent. */
  private flush(): void {
    if (this.state !== 'established' || this.finSent) return;
    let inFlight = seqDiff(this.sndNxt, this.sndUna);
    const window = Math.min(this.sndWnd, MAX_IN_FLIGHT);
    while (inFlight < this.queuedBytes && inFlight < window) {
      const length = Math.min(MSS, this.queuedBytes - inFlight, window - inFlight);
      this.send(FLAG.ack | FLAG.psh, this.sndNxt, this.slice(inFlight, length));
      this.sndNxt = seqAdd(this.sndNxt, length);
      inFlight += length;
    }
    if (this.finWanted && inFlight === this.queuedBytes) {
      this.send(FLAG.fin | FLAG.ack, this.sndNxt);
      this.sndNxt = seqAdd(this.sndNxt, 1);
      this.finSent = true;
    }
  }

  private closeIfDone(): void {
    if (this.peerFin && this.finAcked) this.finish('closed');
  }

  /**
   * One timer for the whole life of the connection: retransmits the SYN or the oldest
   * unacknowledged segment (go-back-N: the link loses nothing but whole frames when the guest's
   * receive ring is full), probes a closed window, and gives up on a guest that stopped answering.
   */
  private armTimer(): void {
    this.timer = setInterval(() => {
      const idleMs = Date.now() - this.lastProgress;
      if (this.state === 'syn-sent') {
        if (idleMs > CONNECT_TIMEOUT_MS) this.abort('timeout');
        else this.sendSyn();
        return;
      }
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      if (inFlight === 0 && this.queuedBytes === 0) {
        this.lastProgress = Date.now();
        return;
      }
      if (idleMs > STALL_TIMEOUT_MS) this.abort('timeout');
      else if (idleMs < RETRANSMIT_MS) return;
      else if (this.sndWnd === 0 && inFlight === 0) {
        // A closed window: probe with one byte so the guest tells us when it opens.
        this.send(FLAG.ack, this.sndNxt, this.slice(0, 1));
      } else {
        // Go back to the oldest unacknowledged byte and send again.
        this.sndNxt = this.sndUna;
        this.finSent = false;
        this.flush();
      }
    }, RETRANSMIT_MS);
    this.timer.unref();
  }

  private abort(reason: GuestTcpCloseReason | null): void {
    if (this.state === 'established') this.send(FLAG.rst | FLAG.ack, this.sndNxt);
    else if (this.state === 'syn-sent') this.send(FLAG.rst, this.sndNxt);
    this.finish(reason);
  }

  private finish(reason: GuestTcpCloseReason | null): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.adapter.tcp_conn[this.tuple] === this) delete this.adapter.tcp_conn[this.tuple];
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (reason) this.listeners.close?.(reason);
  }

  private sendSyn(): void {
    this.adapter.receive(this.frame(FLAG.syn, this.iss, 0, undefined, MSS));
  }

  private sendAck(): void {
    this.send(FLAG.ack, this.sndNxt);
  }

  private send(flags: number, seq: number, payload?: Uint8Array): void {
    if (this.state === 'closed') return;
    this.adapter.receive(this.frame(flags, seq, flags & FLAG.ack ? this.rcvNxt : 0, payload));
  }

  private frame(
    flags: number,
    seq: number,
    ack: number,
    payload?: Uint8Array,
    mss?: number,
  ): Uint8Array {
    const a = this.adapter;
    this.ipId = (this.ipId + 1) & 0xffff;
    return buildTcpFrame({
      srcMac: a.router_mac,
      dstMac: a.vm_mac,
      srcIp: a.router_ip,
      dstIp: a.vm_ip,
      srcPort: this.localPort,
      dstPort: this.guestPort,
      seq,
      ack,
      flags,
      window: this.receiving ? RECEIVE_WINDOW : 0,
      mss,
      payload,
      ipId: this.ipId,
    });
  }
}
