// The guest end of a port forward against a scripted TCP peer that plays the guest's side of
// each exchange, on the frames the connection really emits (parsed and checksummed here). The
// same connection against a real guest kernel is in hypervisor/test/forward.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildTcpFrame,
  GuestTcpConnection,
  internetChecksum,
  type V86NetworkAdapter,
  type V86TcpPacket,
} from './guest-tcp.ts';

interface Segment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  syn: boolean;
  ackFlag: boolean;
  fin: boolean;
  rst: boolean;
  window: number;
  mss: number | null;
  payload: Uint8Array;
}

/** Parses one frame sent towards the guest and checks both checksums. */
function parseFrame(frame: Uint8Array): Segment {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  assert.equal(view.getUint16(12), 0x0800, 'IPv4 ethertype');
  const ip = frame.subarray(14, 34);
  assert.equal(internetChecksum(ip), 0, 'IPv4 header checksum');
  const total = view.getUint16(16);
  assert.equal(total, frame.length - 14);
  const tcp = frame.subarray(34, 14 + total);
  const pseudo = new Uint8Array(12);
  pseudo.set(frame.subarray(26, 34), 0);
  pseudo[9] = 6;
  pseudo[10] = tcp.length >> 8;
  pseudo[11] = tcp.length & 0xff;
  assert.equal(
    internetChecksum(tcp, (0xffff & ~internetChecksum(pseudo)) >>> 0),
    0,
    'TCP checksum',
  );
  const t = 34;
  const offset = (view.getUint8(t + 12) >> 4) * 4;
  const flags = view.getUint8(t + 13);
  let mss: number | null = null;
  if (offset > 20 && frame[t + 20] === 2) mss = view.getUint16(t + 22);
  return {
    srcPort: view.getUint16(t),
    dstPort: view.getUint16(t + 2),
    seq: view.getUint32(t + 4),
    ack: view.getUint32(t + 8),
    syn: Boolean(flags & 0x02),
    ackFlag: Boolean(flags & 0x10),
    fin: Boolean(flags & 0x01),
    rst: Boolean(flags & 0x04),
    window: view.getUint16(t + 14),
    mss,
    payload: frame.slice(t + offset, 14 + total),
  };
}

/** The guest's side: a sequence space, a window, and what it received. */
class ScriptedGuest {
  readonly adapter: V86NetworkAdapter;
  readonly sent: Segment[] = [];
  /** Frames to drop instead of delivering (by index among data segments). */
  dropData = new Set<number>();
  private dataSeen = 0;
  seq = 5000;
  rcvNxt = 0;
  window = 8192;
  received: number[] = [];

  constructor() {
    this.adapter = {
      tcp_conn: {},
      vm_ip: Uint8Array.of(192, 168, 86, 100),
      vm_mac: Uint8Array.of(2, 0, 0, 0, 0, 1),
      router_ip: Uint8Array.of(192, 168, 86, 1),
      router_mac: Uint8Array.of(0x52, 0x54, 0, 1, 2, 3),
      receive: (frame) => {
        const s = parseFrame(frame);
        if (s.payload.length > 0 && this.dropData.has(this.dataSeen++)) return;
        this.sent.push(s);
      },
    };
  }

  connection(): GuestTcpConnection {
    return Object.values(this.adapter.tcp_conn)[0] as unknown as GuestTcpConnection;
  }

  /** Delivers a segment from the guest to the connection, as v86 would after parsing it. */
  reply(flags: Partial<V86TcpPacket['tcp']>, data = new Uint8Array(0)): void {
    const packet: V86TcpPacket = {
      tcp: {
        seq: this.seq,
        ackn: this.rcvNxt,
        winsize: this.window,
        syn: false,
        ack: true,
        fin: false,
        rst: false,
        ...flags,
      },
      tcp_data: data,
    };
    this.seq = (this.seq + data.length + (flags.syn ? 1 : 0) + (flags.fin ? 1 : 0)) >>> 0;
    this.connection().process(packet);
  }

  /** Takes in-order data the connection sent and acknowledges it, like a reading guest. */
  acceptData(): void {
    for (const s of this.sent.splice(0)) {
      if (s.payload.length && s.seq === this.rcvNxt) {
        this.received.push(...s.payload);
        this.rcvNxt = (this.rcvNxt + s.payload.length) >>> 0;
      }
      if (s.fin && s.seq === this.rcvNxt) this.rcvNxt = (this.rcvNxt + 1) >>> 0;
    }
    this.reply({});
  }
}

function handshake(guest: ScriptedGuest, port = 5900) {
  const events: string[] = [];
  const data: number[] = [];
  const conn = new GuestTcpConnection(guest.adapter, port)
    .on('open', () => events.push('open'))
    .on('data', (bytes) => data.push(...bytes))
    .on('end', () => events.push('end'))
    .on('close', (reason) => events.push(`close:${reason}`));
  conn.connect();
  const syn = guest.sent.shift()!;
  assert.ok(syn.syn && !syn.ackFlag, 'a SYN first');
  assert.equal(syn.dstPort, port);
  assert.ok(syn.srcPort >= 49152, 'from a dynamic port');
  assert.equal(syn.mss, 1460, 'with an MSS option, so the guest sends full segments');
  guest.rcvNxt = (syn.seq + 1) >>> 0;
  guest.reply({ syn: true, ack: true });
  const ack = guest.sent.shift()!;
  assert.ok(ack.ackFlag && !ack.syn);
  assert.equal(ack.ack, guest.seq, 'acknowledges the SYN+ACK');
  assert.deepEqual(events, ['open']);
  return { conn, events, data };
}

describe('GuestTcpConnection', () => {
  test('frames carry correct IPv4 and TCP checksums, with and without payload', () => {
    const base = {
      srcMac: new Uint8Array(6),
      dstMac: new Uint8Array(6),
      srcIp: Uint8Array.of(10, 0, 0, 1),
      dstIp: Uint8Array.of(10, 0, 0, 2),
      srcPort: 1234,
      dstPort: 80,
      seq: 0xfffffff0,
      ack: 7,
      flags: 0x18,
      window: 65535,
      ipId: 1,
    };
    parseFrame(buildTcpFrame(base));
    parseFrame(buildTcpFrame({ ...base, payload: Uint8Array.of(1, 2, 3) })); // odd length
    const syn = parseFrame(buildTcpFrame({ ...base, flags: 0x02, mss: 1460 }));
    assert.equal(syn.mss, 1460);
  });

  test('data both ways, segmented by MSS and the guest window, then FIN both ways', () => {
    const guest = new ScriptedGuest();
    const { conn, events, data } = handshake(guest);
    guest.reply({ psh: true } as never, new TextEncoder().encode('RFB 003.008\n'));
    assert.equal(new TextDecoder().decode(Uint8Array.from(data)), 'RFB 003.008\n');
    assert.equal(guest.sent.at(-1)!.ack, guest.seq, 'data acknowledged at once');
    guest.sent.length = 0;

    const big = Uint8Array.from({ length: 20_000 }, (_, i) => i & 0xff);
    conn.write(big);
    // The guest's window is 8 KiB: no more than that in flight, in segments of at most 1460.
    const inFlight = guest.sent.reduce((n, s) => n + s.payload.length, 0);
    assert.equal(inFlight, 8192);
    assert.ok(guest.sent.every((s) => s.payload.length <= 1460));
    while (guest.received.length < big.length) guest.acceptData();
    assert.deepEqual(Uint8Array.from(guest.received), big);
    assert.equal(conn.queuedBytes, 0);

    conn.end();
    const fin = guest.sent.find((s) => s.fin);
    assert.ok(fin, 'FIN once everything was sent');
    guest.acceptData();
    assert.ok(!events.includes('close:closed'), 'still open until the guest closes too');
    guest.reply({ fin: true });
    assert.deepEqual(events, ['open', 'end', 'close:closed']);
    assert.deepEqual(guest.adapter.tcp_conn, {}, 'v86 no longer routes the tuple here');
  });

  test('a closed port answers RST: refused', () => {
    const guest = new ScriptedGuest();
    const events: string[] = [];
    new GuestTcpConnection(guest.adapter, 1).on('close', (reason) => events.push(reason)).connect();
    const syn = guest.sent.shift()!;
    guest.rcvNxt = (syn.seq + 1) >>> 0;
    guest.reply({ rst: true, ack: true });
    assert.deepEqual(events, ['refused']);
    assert.deepEqual(guest.adapter.tcp_conn, {});
  });

  test('a segment lost on the way to the guest is sent again', async () => {
    const guest = new ScriptedGuest();
    const { conn } = handshake(guest);
    guest.dropData = new Set([1]); // the second data segment never arrives
    conn.write(new Uint8Array(3000).fill(7));
    guest.acceptData(); // takes the first, the third is out of order and ignored
    assert.equal(guest.received.length, 1460);
    await new Promise((r) => setTimeout(r, 1200));
    guest.acceptData();
    guest.acceptData();
    assert.equal(guest.received.length, 3000);
    assert.equal(conn.queuedBytes, 0);
    conn.destroy();
  });

  test('a paused reader advertises a closed window until resumed', () => {
    const guest = new ScriptedGuest();
    const { conn } = handshake(guest);
    conn.setReceiving(false);
    assert.equal(guest.sent.at(-1)!.window, 0);
    conn.setReceiving(true);
    assert.equal(guest.sent.at(-1)!.window, 65535);
    conn.destroy();
    assert.ok(guest.sent.at(-1)!.rst, 'destroy resets the connection');
  });
});
