// Throws random and hostile payloads at a running gateway socket. Checks: each bad message is
// answered with a protocol error, repeats lead to a disconnect, the process stays up, another
// session keeps streaming, and nothing leaks into Object.prototype.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProtocolErrorMessage } from '../src/protocol/browser.ts';
import {
  autoAck,
  once,
  sleep,
  startHarness,
  until,
  type Harness,
  type ViewerClient,
} from '../testing/helpers.ts';

let h: Harness;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
let seed = SEED;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const EVENTS = [
  'input:key',
  'input:char',
  'input:pointer',
  'input:wheel',
  'frame:ack',
  'display:refresh',
  'display:size',
  'hello',
  '',
  'constructor',
  '__proto__',
  'toString',
  'x'.repeat(300),
  'display:update',
  'session:ready',
] as const;

function hostile(depth = 0): unknown {
  const kinds = [
    () => null,
    () => undefined,
    () => NaN,
    () => Infinity,
    () => -1e308,
    () => Math.floor(rnd() * 1e9) - 5e8,
    () => rnd() > 0.5,
    () => 'A'.repeat(Math.floor(rnd() * 20000)),
    () => '\u0000\uffff\ud800',
    () => JSON.parse('{"__proto__":{"polluted":1},"code":"KeyA","down":true}'),
    () => JSON.parse('{"constructor":{"prototype":{"polluted":2}},"x":1,"y":1,"buttons":0}'),
    () => ({ code: 'KeyA', down: 'yes' }),
    () => ({ code: 'Key A; rm -rf /', down: true }),
    () => ({ x: -5, y: 99999, buttons: 255 }),
    () => ({ x: 1.5, y: 2, buttons: 0 }),
    () => ({ dx: 1e9, dy: 0 }),
    () => ({ seq: -1 }),
    () => ({ seq: 'latest' }),
    () => ({ code: 'KeyA', down: true, extra: 'field' }),
    () => Buffer.alloc(Math.floor(rnd() * 200_000)),
    () => new Uint8Array(16),
    () => (depth < 40 ? [hostile(depth + 1)] : []),
    () => Array.from({ length: 5000 }, (_, i) => i),
  ];
  return pick(kinds)();
}

/** A message the gateway must refuse (hostile args on an event, or an unknown event). */
function badMessage(): [string, unknown[]] {
  const event = pick(EVENTS);
  const n = Math.floor(rnd() * 3);
  let args = Array.from({ length: n }, () => hostile());
  // Make sure a known input event is not accidentally valid.
  if (event.startsWith('input:') || event === 'frame:ack') args = [hostile(), ...args];
  return [event, args];
}

async function victim(): Promise<{ socket: ViewerClient; stats: ReturnType<typeof autoAck> }> {
  const socket = h.client({ vm: 'vm-2', sub: 'victim', name: 'Victim' });
  const stats = autoAck(socket);
  await once(socket, 'session:ready');
  return { socket, stats };
}

test('every bad message gets a protocol error; repeats disconnect; nothing else is harmed', async () => {
  const v = await victim();
  const vm2 = h.hv.vms.get('vm-2')!;
  const churn = setInterval(
    () => h.hv.fill(vm2, Math.floor(rnd() * 300), 10, 8, 16, [rnd() * 255, 0, 0]),
    50,
  );
  try {
    let disconnects = 0;
    let errors = 0;
    let sent = 0;
    for (let round = 0; round < 12; round++) {
      const a = h.client({
        sub: `attacker-${round}`,
        name: 'Mallory',
        mode: rnd() > 0.5 ? 'control' : 'view',
      });
      await once(a, 'session:ready');
      const got: ProtocolErrorMessage[] = [];
      a.on('protocol:error', (e) => got.push(e));
      const closed = once<{ reason: string }>(a, 'session:closed', 8000);
      closed.catch(() => {});
      let k = 0;
      while (a.connected && k < 40) {
        const [event, args] = badMessage();
        (a as unknown as { emit(e: string, ...x: unknown[]): void }).emit(event, ...args);
        sent++;
        k++;
        await sleep(5);
      }
      const c = await closed;
      assert.equal(c.reason, 'protocol-abuse');
      errors += got.length;
      assert.ok(
        got.length >= 9 && got.length <= 10,
        `round ${round}: ${got.length} errors before disconnect`,
      );
      for (const e of got)
        assert.ok(
          ['bad_message', 'too_large', 'unknown_event', 'view_only'].includes(e.code),
          e.code,
        );
      await until(() => !a.connected, 3000, 'attacker disconnected');
      disconnects++;
    }
    console.log(
      `# fuzz seed ${SEED} (FUZZ_SEED to replay): ${sent} hostile messages, ${errors} protocol errors, ${disconnects} disconnects`,
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
    // The victim kept streaming and was never disconnected.
    const before = v.stats.frames;
    await until(() => v.stats.frames > before + 3, 3000, 'victim frames');
    assert.equal(v.socket.connected, true);
  } finally {
    clearInterval(churn);
    v.socket.disconnect();
  }
});

test('oversized binary above maxHttpBufferSize and raw garbage packets close only that socket', async () => {
  const v = await victim();
  const big = h.client({ sub: 'big' });
  await once(big, 'session:ready');
  (big as unknown as { emit(e: string, x: unknown): void }).emit(
    'input:key',
    Buffer.alloc(1_200_000),
  );
  assert.equal(await once(big, 'disconnect', 5000), 'transport close');

  const garbage = h.client({ sub: 'garbage' });
  await once(garbage, 'session:ready');
  // Raw engine.io message packets that socket.io cannot decode.
  const engine = (garbage as unknown as { io: { engine: { write(d: string): void } } }).io.engine;
  engine.write('2["input:key",{"code":');
  engine.write('9999');
  await once(garbage, 'disconnect', 5000);
  // Reserved event names are a parser-level violation too: socket.io closes the socket.
  const reserved = h.client({ sub: 'reserved' });
  await once(reserved, 'session:ready');
  (reserved as unknown as { io: { engine: { write(d: string): void } } }).io.engine.write(
    '2["connect",{}]',
  );
  await once(reserved, 'disconnect', 5000);

  // An unauthenticated flood of handshakes costs nothing lasting.
  const floods = Array.from({ length: 30 }, () => h.client({}, { token: 'x'.repeat(5000) }));
  await Promise.all(floods.map((f) => once(f, 'connect_error')));

  const before = v.stats.frames;
  h.hv.fill(h.hv.vms.get('vm-2')!, 0, 0, 50, 50, [1, 2, 3]);
  await until(() => v.stats.frames > before, 3000, 'victim still streams');
  const health = await fetch(`${h.url}/healthz`);
  assert.equal(health.status, 200);
  v.socket.disconnect();
});

test('oversized but below-cap messages and floods of unknown events are refused', async () => {
  const a = h.client({ sub: 'sizer' });
  await once(a, 'session:ready');
  const err = once<ProtocolErrorMessage>(a, 'protocol:error');
  (a as unknown as { emit(e: string, x: unknown): void }).emit('input:key', {
    code: 'KeyA',
    down: true,
    pad: 'x'.repeat(50_000),
  });
  const e = await err;
  assert.equal(e.code, 'too_large');
  assert.equal(e.strikesLeft, 9);
  a.disconnect();
});
