import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartPolicy } from './restart-policy.ts';

const policy = (random = () => 0.5) =>
  new RestartPolicy(
    { initialDelayMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0.2, resetAfterMs: 5_000 },
    random,
  );

test('failures in a row back off exponentially up to the cap', () => {
  const p = policy();
  const delays = Array.from({ length: 7 }, () => p.nextDelay(10));
  assert.deepEqual(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  assert.equal(p.failures, 7);
});

test('jitter spreads each delay by at most its share either way, never past the cap', () => {
  const low = policy(() => 0);
  const high = policy(() => 0.999999);
  assert.deepEqual([low.nextDelay(0), low.nextDelay(0), low.nextDelay(0)], [80, 160, 320]);
  assert.deepEqual([high.nextDelay(0), high.nextDelay(0), high.nextDelay(0)], [120, 240, 480]);
  for (let i = 0; i < 5; i++) high.nextDelay(0);
  assert.equal(high.nextDelay(0), 1_000, 'the cap holds with jitter');
  const random = policy(Math.random);
  for (let i = 0; i < 200; i++) {
    const delay = random.nextDelay(0);
    assert.ok(delay >= 80 && delay <= 1_000, `delay ${delay} out of bounds`);
  }
});

test('a part that stayed up long enough starts over at the initial delay', () => {
  const p = policy();
  p.nextDelay(0);
  p.nextDelay(0);
  assert.equal(p.nextDelay(4_999), 400, 'not long enough: keeps backing off');
  assert.equal(p.nextDelay(5_000), 100, 'up for resetAfterMs: back to the start');
  assert.equal(p.failures, 1);
});
