// The host side of the virtual network without a VM: a real switch on loopback, a hand-written
// wisp v1 client (the frames v86 sends), a real HTTP server as the destination.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import type { DomainKind } from '../api/protocol.ts';
import { buildServfail, parseDnsQuery } from './dns-message.ts';
import { defaultEgressConfig, parseAllowlist } from './policy.ts';
import { NetworkSwitch, parseRelayPath } from './switch.ts';

const PAGE = 'hello from the host';

interface LogLine {
  msg: string;
  domain?: string;
  destination?: string;
  reason?: string;
}

function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

/** The part of v86's wisp client that matters here: CONNECT, DATA, and what comes back. */
class WispTestClient {
  private readonly ws: WebSocket;
  readonly frames: Array<{ type: number; stream: number; payload: Buffer }> = [];
  private nextStream = 1;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(url: string) {
    this.ws = new WebSocket(url.replace('wisp://', 'ws://'));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
    this.ws.on('message', (data: Buffer) =>
      this.frames.push({ type: data[0]!, stream: data.readUInt32LE(1), payload: data.subarray(5) }),
    );
  }

  /** Opens a TCP stream, sends `request`, and collects what comes back until the stream ends. */
  async exchange(
    host: string,
    port: number,
    request: string,
  ): Promise<{ data: string; closeReason: number }> {
    const stream = this.nextStream++;
    const name = Buffer.from(host);
    const connect = Buffer.alloc(8 + name.length);
    connect.writeUInt8(0x01, 0);
    connect.writeUInt32LE(stream, 1);
    connect.writeUInt8(0x01, 5); // TCP
    connect.writeUInt16LE(port, 6);
    name.copy(connect, 8);
    this.ws.send(connect);
    const data = Buffer.alloc(5 + request.length);
    data.writeUInt8(0x02, 0);
    data.writeUInt32LE(stream, 1);
    data.write(request, 5);
    this.ws.send(data);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const close = this.frames.find((f) => f.stream === stream && f.type === 0x04);
      if (close) {
        const body = this.frames
          .filter((f) => f.stream === stream && f.type === 0x02)
          .map((f) => f.payload.toString())
          .join('');
        return { data: body, closeReason: close.payload[0]! };
      }
      if (Date.now() > deadline) throw new Error(`stream ${stream} did not close`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.ws.close();
  }
}

function dnsQuery(name: string, type = 1): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  return Uint8Array.from([
    0x12,
    0x34,
    0x01,
    0x00,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...labels,
    0,
    0,
    type,
    0,
    1,
  ]);
}

describe('virtual switch (wisp server, policy, DNS)', () => {
  let web: Server;
  let webPort: number;
  let network: NetworkSwitch;
  let lines: LogLine[];
  const kinds = new Map<string, DomainKind>();

  before(async () => {
    web = createServer((_req, res) => res.end(PAGE));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as AddressInfo).port;
    const captured = captureLog();
    lines = captured.lines;
    network = new NetworkSwitch(
      {
        policy: {
          ...defaultEgressConfig(),
          allowByKind: {
            personal: [],
            disposable: [],
            system: parseAllowlist(`127.0.0.1:${webPort}`),
          },
        },
      },
      captured.log,
    );
    await network.start();
  });
  after(async () => {
    await network.close();
    await new Promise((resolve) => web.close(resolve));
  });

  const attach = (id: string, kind: DomainKind) => {
    kinds.set(id, kind);
    return network.attach(id, () => kinds.get(id)!);
  };
  const request = `GET / HTTP/1.0\r\nHost: x\r\n\r\n`;

  test('an allow-listed destination is reached, and counted', async () => {
    const config = attach('vm-allowed', 'system');
    const client = new WispTestClient(config.relayUrl);
    await client.opened;
    // The fake router's address stands for the host's loopback.
    const reply = await client.exchange('192.168.86.1', webPort, request);
    assert.match(reply.data, /^HTTP\/1\.[01] 200/);
    assert.ok(reply.data.endsWith(PAGE));
    client.close();
    const info = network.info('vm-allowed', 'system');
    assert.equal(info.counters.connectionsOpened, 1);
    assert.equal(info.counters.connectionsDenied, 0);
    assert.equal(info.counters.bytesOut, request.length);
    assert.ok(info.counters.bytesIn > PAGE.length);
  });

  test('a disposable VM is denied the same destination; the denial is logged and counted', async () => {
    const config = attach('vm-disposable', 'disposable');
    const client = new WispTestClient(config.relayUrl);
    await client.opened;
    for (const host of ['192.168.86.1', '127.0.0.1', 'localhost', '169.254.169.254']) {
      const reply = await client.exchange(host, webPort, request);
      assert.equal(reply.data, '', host);
      assert.notEqual(reply.closeReason, 0x02, `${host}: not a voluntary close`);
    }
    client.close();
    const info = network.info('vm-disposable', 'disposable');
    assert.equal(info.counters.connectionsOpened, 0);
    assert.equal(info.counters.connectionsDenied, 4);
    assert.equal(info.recentDenials[0]!.destination, `169.254.169.254:${webPort}`);
    assert.equal(info.recentDenials[0]!.reason, 'link-local address');
    assert.deepEqual(info.policy.publicPorts, [80, 443]);
    const denials = lines.filter((l) => l.msg === 'egress denied' && l.domain === 'vm-disposable');
    assert.equal(denials.length, 4);
    assert.deepEqual(
      { destination: denials[0]!.destination, reason: denials[0]!.reason },
      { destination: `127.0.0.1:${webPort}`, reason: 'loopback address' },
    );
  });

  test('a claimed standby VM gets the policy of its new kind at the next connection', async () => {
    const config = attach('vm-claimed', 'system');
    const client = new WispTestClient(config.relayUrl);
    await client.opened;
    assert.match((await client.exchange('127.0.0.1', webPort, request)).data, /200/);
    kinds.set('vm-claimed', 'disposable');
    assert.equal((await client.exchange('127.0.0.1', webPort, request)).data, '');
    client.close();
  });

  test('a wrong, old or malformed token is refused at the upgrade', async () => {
    const first = attach('vm-tokens', 'system');
    const second = attach('vm-tokens', 'system'); // a new boot: the old token dies
    const other = attach('vm-other', 'disposable');
    const stolen = other.relayUrl.replace('vm-other', 'vm-tokens');
    for (const url of [
      first.relayUrl,
      stolen,
      second.relayUrl.replace(/\/[^/]+\/$/, '/short/'),
      second.relayUrl.replace('/wisp/', '/dns/'),
    ]) {
      const client = new WispTestClient(url);
      await assert.rejects(client.opened, /Unexpected server response: 40[34]/, url);
    }
    const ok = new WispTestClient(second.relayUrl);
    await ok.opened;
    ok.close();
    assert.ok(lines.some((l) => l.msg === 'relay refused: unknown domain or token'));
  });

  test('detaching a domain closes its relay and revokes its token', async () => {
    const config = attach('vm-detach', 'system');
    const client = new WispTestClient(config.relayUrl);
    await client.opened;
    network.onDomainState('vm-detach', 'saved');
    await client.closed;
    assert.equal(network.info('vm-detach', 'system').attached, false);
    await assert.rejects(new WispTestClient(config.relayUrl).opened, /403/);
  });

  test('DNS is answered by the host resolver, filtered by policy, and refused without a token', async () => {
    const config = attach('vm-dns', 'personal');
    const ask = async (name: string, type = 1) => {
      const response = await fetch(config.dnsUrl, { method: 'POST', body: dnsQuery(name, type) });
      assert.equal(response.status, 200);
      return new Uint8Array(await response.arrayBuffer());
    };
    // localhost resolves to loopback on the host: a personal VM may not go there, so no answer.
    const local = await ask('localhost');
    assert.equal(local[0], 0x12);
    assert.equal(local[1], 0x34);
    assert.equal(local[3]! & 0x0f, 0, 'NOERROR');
    assert.equal((local[6]! << 8) | local[7]!, 0, 'no answers');
    const aaaa = await ask('localhost', 28);
    assert.equal((aaaa[6]! << 8) | aaaa[7]!, 0);
    const info = network.info('vm-dns', 'personal');
    assert.equal(info.counters.dnsQueries, 2);
    assert.ok(info.counters.dnsAnswersFiltered >= 1);
    const refused = await fetch(config.dnsUrl.replace(/[^/]+$/, 'A'.repeat(32)), {
      method: 'POST',
      body: dnsQuery('localhost'),
    });
    assert.equal(refused.status, 404);
  });

  test('the allow-listed system VM resolves localhost (its rule covers loopback)', async () => {
    const config = attach('vm-dns-system', 'system');
    const response = await fetch(config.dnsUrl, { method: 'POST', body: dnsQuery('localhost') });
    const answer = new Uint8Array(await response.arrayBuffer());
    assert.equal((answer[6]! << 8) | answer[7]!, 1);
    assert.deepEqual([...answer.subarray(answer.length - 4)], [127, 0, 0, 1]);
  });

  test('metrics are exported', async () => {
    const registry = new Registry();
    network.registerMetrics(registry);
    const text = await registry.metrics();
    assert.match(text, /raydesk_net_connections_total\{kind="disposable",result="denied"\} [1-9]/);
    assert.match(text, /raydesk_net_bytes_total\{kind="system",direction="in"\} [1-9]/);
  });
});

describe('relay paths and DNS messages', () => {
  test('only well-formed paths parse', () => {
    const token = 'A'.repeat(32);
    assert.deepEqual(parseRelayPath(`/wisp/vm-1/${token}/`), {
      channel: 'wisp',
      domainId: 'vm-1',
      token,
    });
    assert.equal(parseRelayPath(`/dns/vm-1/${token}`)?.channel, 'dns');
    for (const bad of [
      `/wisp/VM-1/${token}/`,
      `/wisp/vm-1/${token.slice(1)}/`,
      `/other/vm-1/${token}/`,
      `/wisp/vm-1/${token}/extra/`,
      `/wisp/../${token}/`,
      undefined,
    ]) {
      assert.equal(parseRelayPath(bad), null, String(bad));
    }
  });

  test('queries parse; junk does not; SERVFAIL keeps the id', () => {
    const question = parseDnsQuery(dnsQuery('Example.COM'));
    assert.equal(question?.name, 'example.com');
    assert.equal(question?.type, 1);
    assert.equal(parseDnsQuery(new Uint8Array(8)), null);
    const pointer = dnsQuery('a.b');
    pointer[12] = 0xc0;
    assert.equal(parseDnsQuery(pointer), null);
    const fail = buildServfail(dnsQuery('example.com'));
    assert.deepEqual([fail[0], fail[1], fail[3]! & 0x0f], [0x12, 0x34, 2]);
  });
});
