import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSE_REASONS, HANDSHAKE_ERRORS } from '@raydesk/gateway/protocol';
import { ReconnectPolicy, reconnects, type Disconnect } from './reconnect.ts';

test('the viewer reconnects after everything but a takeover, a sign-out, an admin or a refusal', () => {
  const again: Disconnect[] = [
    { kind: 'closed', reason: 'gateway-shutdown' },
    { kind: 'transport', reason: 'transport close' },
    { kind: 'transport', reason: 'transport error' },
    { kind: 'transport', reason: 'ping timeout' },
    { kind: 'transport', reason: 'io server disconnect' },
    { kind: 'handshake', message: 'websocket error' },
    { kind: 'handshake', message: 'timeout' },
    { kind: 'token', refused: null },
  ];
  const stop: Disconnect[] = [
    { kind: 'moved' },
    { kind: 'user' },
    { kind: 'token', refused: 'signed-out' },
    { kind: 'token', refused: 'no-access' },
    ...CLOSE_REASONS.filter((r) => r !== 'gateway-shutdown').map((reason): Disconnect => ({
      kind: 'closed',
      reason,
    })),
    ...HANDSHAKE_ERRORS.map((message): Disconnect => ({ kind: 'handshake', message })),
  ];
  for (const cause of again) assert.equal(reconnects(cause), true, JSON.stringify(cause));
  for (const cause of stop) assert.equal(reconnects(cause), false, JSON.stringify(cause));
  assert.ok(stop.some((c) => c.kind === 'closed' && c.reason === 'admin-disconnect'));
});

const policy = (random = () => 0.5) =>
  new ReconnectPolicy(
    { initialDelayMs: 500, factor: 2, maxDelayMs: 15_000, jitter: 0.3, resetAfterMs: 15_000 },
    random,
  );

test('failed attempts back off exponentially up to the cap', () => {
  const p = policy();
  const delays = Array.from({ length: 8 }, () => p.nextDelay());
  assert.deepEqual(delays, [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
  assert.equal(p.attempts, 8);
});

test('jitter spreads each delay by up to 30 % either way and never passes the cap', () => {
  const low = policy(() => 0);
  const high = policy(() => 0.999999);
  assert.deepEqual([low.nextDelay(), low.nextDelay()], [350, 700]);
  assert.deepEqual([high.nextDelay(), high.nextDelay()], [650, 1_300]);
  const random = policy(Math.random);
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) {
    random.reset();
    const delay = random.nextDelay();
    seen.add(delay);
    assert.ok(delay >= 350 && delay <= 650, `${delay}`);
  }
  assert.ok(seen.size > 10, 'viewers do not retry in step');
  for (let i = 0; i < 20; i++) assert.ok(random.nextDelay() <= 15_000);
});

test('a session that lasted starts the backoff over; a short one keeps backing off', () => {
  const p = policy();
  p.nextDelay();
  p.nextDelay();
  assert.equal(p.nextDelay(3_000), 2_000, 'a brief session: still backing off');
  assert.equal(p.nextDelay(15_000), 500, 'a session of 15 s: back to the start');
  p.nextDelay();
  p.reset();
  assert.equal(p.nextDelay(), 500, 'an explicit connect starts over');
});
