import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError, GuestAgentClient, parseInfo } from './guest-agent-client.ts';

/** A fake guest agent: answers requests written to it, like the real one on serial port 1. */
function fakeGuest(handler: (id: string, command: string, args: string[]) => string | null) {
  const received: string[] = [];
  const enc = new TextEncoder();
  let partial = '';
  const client: GuestAgentClient = new GuestAgentClient(
    (bytes) => {
      partial += new TextDecoder().decode(bytes);
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        received.push(line);
        const [id = '', command = '', ...args] = line.split(' ');
        const reply = handler(id, command, args);
        if (reply !== null) setImmediate(() => guestSays(`${id} ${reply}`));
      }
    },
    { defaultTimeoutMs: 200 },
  );
  const guestSays = (line: string) => {
    // The guest writes byte by byte, as a UART does.
    for (const b of enc.encode(`${line}\r\n`)) client.receiveByte(b);
  };
  return { client, received, guestSays };
}

test('spontaneous lines become events with the raw line', async () => {
  const { client, guestSays } = fakeGuest(() => null);
  const events: [string, string, string[]][] = [];
  client.onEvent((line, ev) => events.push([line, ev.name, ev.args]));
  const ready = client.waitForEvent(/^\* ready desktop\b/, 500);
  guestSays('* hello desktop');
  guestSays('* ready desktop');
  assert.equal((await ready).name, 'ready');
  assert.deepEqual(events, [
    ['* hello desktop', 'hello', ['desktop']],
    ['* ready desktop', 'ready', ['desktop']],
  ]);
});

test('request/reply with numbered lines, payloads and errors', async () => {
  const { client, received } = fakeGuest((_id, command, args) => {
    if (command === 'ping') return 'ok pong';
    if (command === 'echo') return `ok ${args.join(' ')}`;
    if (command === 'time') return 'ok';
    if (command === 'identity') return 'ok';
    if (command === 'entropy') return args[0]?.length === 8 ? 'ok' : 'err bad entropy';
    if (command === 'info') return 'ok hostname=rd-x machine-id=abc time=1700000000.5 uptime=12.25';
    return 'err unknown command';
  });
  assert.equal(await client.request('echo', ['a', 'b']), 'a b');
  await client.ping();
  await client.setTime(1700000000.1234);
  await client.setIdentity('rd-vm1', '0123abcd');
  await client.addEntropy(new Uint8Array([1, 2, 3, 255]));
  assert.deepEqual(await client.info(), {
    hostname: 'rd-x',
    machineId: 'abc',
    time: 1700000000.5,
    uptime: 12.25,
  });
  await assert.rejects(
    client.request('bogus'),
    (e: unknown) => e instanceof AgentError && e.kind === 'err' && e.message === 'unknown command',
  );
  assert.deepEqual(received, [
    '1 echo a b',
    '2 ping',
    '3 time 1700000000.123',
    '4 identity rd-vm1 0123abcd',
    '5 entropy 010203ff',
    '6 info',
    '7 bogus',
  ]);
  assert.equal(client.pendingRequests, 0);
});

test('concurrent requests are matched by id even when answered out of order', async () => {
  const replies: [string, string][] = [];
  const { client, guestSays } = fakeGuest((id, _c, args) => {
    replies.push([id, args[0] ?? '']);
    return null;
  });
  const a = client.request('echo', ['A']);
  const b = client.request('echo', ['B']);
  guestSays(`${replies[1]![0]} ok B`);
  guestSays(`${replies[0]![0]} ok A`);
  assert.deepEqual(await Promise.all([a, b]), ['A', 'B']);
});

test('timeouts, stray lines, invalid tokens and close', async () => {
  const { client, guestSays } = fakeGuest(() => null);
  const stray: string[] = [];
  client.onStrayLine((l) => stray.push(l));
  await assert.rejects(
    client.request('ping', [], 20),
    (e: unknown) => e instanceof AgentError && e.kind === 'timeout',
  );
  guestSays('1 ok late'); // reply after the timeout: stray
  guestSays('random noise');
  assert.deepEqual(stray, ['1 ok late', 'random noise']);
  await assert.rejects(client.request('echo', ['has space']), /invalid agent token/);
  await assert.rejects(client.request('echo', ['']), /invalid agent token/);
  const pending = client.request('ping', [], 5000);
  client.close();
  await assert.rejects(pending, (e: unknown) => e instanceof AgentError && e.kind === 'closed');
  await assert.rejects(client.request('ping'), /closed/);
});

test('parseInfo accepts JSON and key=value', () => {
  assert.deepEqual(parseInfo('{"hostname":"h","machineId":"m","time":5,"uptime":1.5}'), {
    hostname: 'h',
    machineId: 'm',
    time: 5,
    uptime: 1.5,
  });
  const partial = parseInfo('hostname=h');
  assert.equal(partial.hostname, 'h');
  assert.ok(Number.isNaN(partial.time));
});

test('a request with a payload sends its base64 size, then the payload and a newline', async () => {
  const written: string[] = [];
  const client = new GuestAgentClient((bytes) => written.push(new TextDecoder().decode(bytes)), {
    defaultTimeoutMs: 500,
    maxLineBytes: 1024 * 1024,
  });
  const text = 'Grüße ✓';
  const reply = client.requestWithPayload('clip-set', ['both'], new TextEncoder().encode(text));
  const encoded = Buffer.from(text).toString('base64');
  assert.deepEqual(written, [`1 clip-set both ${encoded.length}\n`, `${encoded}\n`]);
  // A long reply line (a clipboard or file chunk in base64) arrives whole.
  const long = 'A'.repeat(300_000);
  client.receive(new TextEncoder().encode(`1 ok ${long}\n`));
  assert.equal(await reply, long);
});

test('a payload is not sent when its request line was refused', async () => {
  const written: string[] = [];
  const client = new GuestAgentClient((bytes) => written.push(new TextDecoder().decode(bytes)));
  await assert.rejects(
    client.requestWithPayload('clip set', [], new Uint8Array([1, 2, 3])),
    AgentError,
  );
  assert.deepEqual(written, []);
});

test('file requests go out one at a time; other requests are written at once and slip in between', async () => {
  const lines: string[] = [];
  const client = new GuestAgentClient(
    (bytes) => {
      const text = new TextDecoder().decode(bytes);
      // Request lines only (a payload is base64 without spaces).
      if (/^\d+ /.test(text)) lines.push(text.trim());
    },
    { defaultTimeoutMs: 1_000 },
  );
  const chunk = new Uint8Array(64 * 1024);
  const first = client.requestWithPayload('upload-chunk', ['1'], chunk);
  const second = client.requestWithPayload('upload-chunk', ['1'], chunk);
  const read = client.request('outbox-read', ['bmFtZQ==', '0', '16']);
  const ping = client.ping();
  // One chunk on the line; the ping was written right after it, the rest wait.
  assert.deepEqual(
    lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['1 upload-chunk', '4 ping'],
  );
  client.receive(new TextEncoder().encode('4 ok pong\n'));
  await ping;
  client.receive(new TextEncoder().encode('1 ok 65536\n'));
  assert.equal(await first, '65536');
  assert.equal(lines.at(-1)?.split(' ')[1], 'upload-chunk');
  assert.equal(lines.at(-1)?.split(' ')[0], '2');
  client.receive(new TextEncoder().encode('2 ok 131072\n'));
  assert.equal(await second, '131072');
  assert.equal(lines.at(-1), '3 outbox-read bmFtZQ== 0 16');
  client.receive(new TextEncoder().encode('3 ok AAAA\n'));
  assert.equal(await read, 'AAAA');
});

test('a queued chunk that times out before its turn is never written', async () => {
  const lines: string[] = [];
  const client = new GuestAgentClient((bytes) => {
    const text = new TextDecoder().decode(bytes);
    if (/^\d+ /.test(text)) lines.push(text.trim());
  });
  const data = new Uint8Array(8);
  const first = client.requestWithPayload('upload-chunk', ['1'], data, 1_000);
  const late = client.requestWithPayload('upload-chunk', ['1'], data, 20);
  await assert.rejects(late, (e: unknown) => e instanceof AgentError && e.kind === 'timeout');
  const third = client.requestWithPayload('upload-chunk', ['1'], data, 1_000);
  client.receive(new TextEncoder().encode('1 ok 8\n'));
  await first;
  // The timed-out request (2) was skipped: the next on the line is 3.
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['1', '3'],
  );
  client.receive(new TextEncoder().encode('3 ok 16\n'));
  assert.equal(await third, '16');
  client.close();
});
