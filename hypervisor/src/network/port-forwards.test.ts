// Host-to-guest port forwards on the real switch, with the test playing the domain worker's end
// of the forward channel (what guest-forward.ts does in a worker, minus the guest). The whole
// path into a real guest is in hypervisor/test/forward.test.ts.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { WebSocket } from 'ws';
import { DEFAULT_FORWARD_LISTEN } from '../api/protocol.ts';
import { decodeForwardFrame, encodeForwardFrame, type ForwardFrame } from './forward-protocol.ts';
import { defaultEgressConfig } from './policy.ts';
import { ForwardError } from './port-forwards.ts';
import { NetworkSwitch } from './switch.ts';

interface LogLine {
  msg: string;
  audit?: string;
  domain?: string;
  listen?: string;
  loopback?: boolean;
  why?: string;
  bytesToGuest?: number;
}

/** The worker's end of the channel: records frames, answers as the test says. */
class TestWorker {
  readonly ws: WebSocket;
  readonly frames: ForwardFrame[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', () => resolve()));
    this.ws.on('message', (data: Buffer) => {
      const frame = decodeForwardFrame(data);
      assert.ok(frame, 'the switch sends well-formed frames');
      this.frames.push(frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  send(frame: ForwardFrame): void {
    this.ws.send(encodeForwardFrame(frame));
  }

  async next<T extends ForwardFrame['type']>(
    type: T,
    timeoutMs = 5_000,
  ): Promise<Extract<ForwardFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type);
      if (index >= 0) return this.frames.splice(index, 1)[0] as Extract<ForwardFrame, { type: T }>;
      if (Date.now() > deadline) throw new Error(`no ${type} frame`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

const connectTo = (port: number, host = '127.0.0.1') =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ port, host }, () => resolve(socket));
    socket.once('error', reject);
  });
const readUntilEnd = (socket: Socket) =>
  new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
  });

describe('port forwards on the virtual switch', () => {
  let network: NetworkSwitch;
  const lines: LogLine[] = [];

  before(async () => {
    const log = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
    );
    network = new NetworkSwitch({ policy: defaultEgressConfig() }, log);
    await network.start();
  });
  after(async () => {
    await network.close();
  });

  test('a connection to the host port becomes a stream into the guest port, both ways', async () => {
    const config = network.attach('vm-fwd', () => 'personal');
    const worker = new TestWorker(config.forwardUrl);
    await worker.opened;
    await new Promise((r) => setTimeout(r, 50)); // the switch registers the channel
    const forward = await network.openForward('vm-fwd', 5900, DEFAULT_FORWARD_LISTEN);
    assert.equal(forward.listen.host, '127.0.0.1', 'loopback by default');
    assert.ok(forward.listen.port > 0, 'a free port was picked');
    const opened = lines.find((l) => l.msg === 'port forward opened' && l.domain === 'vm-fwd');
    assert.equal(opened?.audit, 'port-forward');
    assert.equal(opened?.loopback, true);

    const client = await connectTo(forward.listen.port);
    const open = await worker.next('open');
    assert.equal(open.port, 5900);
    // Nothing reaches the worker before the guest accepted.
    client.write('hello guest');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      worker.frames.some((f) => f.type === 'data'),
      false,
    );
    worker.send({ type: 'opened', stream: open.stream });
    const data = await worker.next('data');
    assert.equal(Buffer.from(data.data).toString(), 'hello guest');

    const reply = readUntilEnd(client);
    worker.send({ type: 'data', stream: open.stream, data: Buffer.from('RFB 003.008\n') });
    worker.send({ type: 'end', stream: open.stream });
    client.end();
    await worker.next('end');
    assert.equal(await reply, 'RFB 003.008\n');
    worker.send({ type: 'close', stream: open.stream, reason: 'closed' });

    const net = network.info('vm-fwd', 'personal');
    assert.equal(net.forwards.length, 1);
    assert.equal(net.forwards[0]!.connections.total, 1);
    assert.equal(net.forwards[0]!.bytesToGuest, 'hello guest'.length);
    assert.equal(net.forwards[0]!.bytesFromGuest, 'RFB 003.008\n'.length);
    assert.ok(lines.some((l) => l.msg === 'port-forward connection' && l.domain === 'vm-fwd'));
  });

  test('a guest port that refuses closes the client connection', async () => {
    const config = network.attach('vm-refuse', () => 'system');
    const worker = new TestWorker(config.forwardUrl);
    await worker.opened;
    await new Promise((r) => setTimeout(r, 50));
    const forward = await network.openForward('vm-refuse', 1, DEFAULT_FORWARD_LISTEN);
    const client = await connectTo(forward.listen.port);
    const ended = readUntilEnd(client);
    const open = await worker.next('open');
    worker.send({ type: 'close', stream: open.stream, reason: 'refused' });
    assert.equal(await ended, '');
  });

  test('forwards close with the VM: stop, suspend, crash or a new boot', async () => {
    for (const [state, why] of [
      ['stopped', 'the VM stopped'],
      ['saved', 'the VM is saved'],
      ['crashed', 'the VM is crashed'],
      ['reboot', 'the VM booted again'],
    ] as const) {
      const id = `vm-life-${state}`;
      const config = network.attach(id, () => 'personal');
      const worker = new TestWorker(config.forwardUrl);
      await worker.opened;
      await new Promise((r) => setTimeout(r, 50));
      const forward = await network.openForward(id, 22, DEFAULT_FORWARD_LISTEN);
      const client = await connectTo(forward.listen.port);
      await worker.next('open');
      const clientClosed = new Promise((resolve) => client.on('close', resolve));
      if (state === 'reboot') network.attach(id, () => 'personal');
      else network.onDomainState(id, state);
      await clientClosed;
      await worker.closed;
      await assert.rejects(connectTo(forward.listen.port), /ECONNREFUSED/, state);
      const closed = lines.find((l) => l.msg === 'port forward closed' && l.domain === id);
      assert.equal(closed?.why, why);
      assert.equal(network.info(id, 'personal').forwards.length, 0);
    }
  });

  test('explicit close; refusals: no running network, a taken port, an unknown forward', async () => {
    await assert.rejects(
      network.openForward('vm-nothing', 80, DEFAULT_FORWARD_LISTEN),
      (error: unknown) => error instanceof ForwardError && error.code === 'illegal_transition',
    );
    const config = network.attach('vm-close', () => 'personal');
    const worker = new TestWorker(config.forwardUrl);
    await worker.opened;
    await new Promise((r) => setTimeout(r, 50));
    const forward = await network.openForward('vm-close', 80, DEFAULT_FORWARD_LISTEN);
    await assert.rejects(
      network.openForward('vm-close', 81, { host: '127.0.0.1', port: forward.listen.port }),
      (error: unknown) =>
        error instanceof ForwardError &&
        error.code === 'bad_request' &&
        /EADDRINUSE/.test(error.message),
    );
    assert.throws(
      () => network.closeForward('vm-close', { port: forward.listen.port + 1 }),
      (error: unknown) => error instanceof ForwardError && error.code === 'not_found',
    );
    const closed = network.closeForward('vm-close', { port: forward.listen.port });
    assert.equal(closed.guestPort, 80);
    await assert.rejects(connectTo(forward.listen.port), /ECONNREFUSED/);
    assert.ok(
      lines.some(
        (l) =>
          l.msg === 'port forward closed' &&
          l.domain === 'vm-close' &&
          l.why === 'closed by request',
      ),
    );
  });

  test('the forward channel needs the current token; a malformed frame ends it', async () => {
    const config = network.attach('vm-token', () => 'personal');
    await assert.rejects(
      new TestWorker(config.forwardUrl.replace(/\/[^/]+\/$/, `/${'A'.repeat(32)}/`)).opened,
      /403/,
    );
    const worker = new TestWorker(config.forwardUrl);
    await worker.opened;
    worker.ws.send(Uint8Array.of(99, 1, 0, 0, 0));
    await worker.closed;
    assert.ok(lines.some((l) => l.msg === 'port-forward channel sent a malformed frame'));
  });

  test('a host-internal stream reaches the guest port both ways, and a refusal rejects', async () => {
    const config = network.attach('vm-internal', () => 'personal');
    const worker = new TestWorker(config.forwardUrl);
    await worker.opened;
    const connecting = network.openGuestStream('vm-internal', 23456);
    const open = await worker.next('open');
    assert.equal(open.port, 23456);
    worker.send({ type: 'opened', stream: open.stream });
    const stream = await connecting;
    stream.write(Buffer.from('to the guest'));
    stream.end();
    const data = await worker.next('data');
    assert.equal(Buffer.from(data.data).toString(), 'to the guest');
    await worker.next('end');
    const received: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise((resolve) => stream.once('end', resolve));
    worker.send({ type: 'data', stream: open.stream, data: Buffer.from('from the guest') });
    worker.send({ type: 'close', stream: open.stream, reason: 'closed' });
    await ended;
    assert.equal(Buffer.concat(received).toString(), 'from the guest');

    const refusedOne = network.openGuestStream('vm-internal', 9);
    const second = await worker.next('open');
    worker.send({ type: 'close', stream: second.stream, reason: 'refused' });
    await assert.rejects(refusedOne, (error: unknown) => error instanceof ForwardError);
    await assert.rejects(
      network.openGuestStream('vm-unknown', 80),
      (error: unknown) => error instanceof ForwardError && error.code === 'illegal_transition',
    );
    network.detach('vm-internal');
  });
});
