import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ApplianceName, DomainState } from '../api/protocol.ts';
import { StandbyPool, type StandbyFactory } from './standby-pool.ts';

interface FakeDomain {
  id: string;
  appliance: ApplianceName;
  state: DomainState;
}

/** A factory whose domains become ready when the test says so. */
function factory() {
  const made: FakeDomain[] = [];
  const discarded: string[] = [];
  const finish = new Map<string, (outcome: 'ready' | Error) => void>();
  const impl: StandbyFactory<FakeDomain> = {
    prepare: (appliance) =>
      new Promise((resolve, reject) => {
        const domain: FakeDomain = { id: `vm-${made.length}`, appliance, state: 'starting' };
        made.push(domain);
        finish.set(domain.id, (outcome) => {
          if (outcome instanceof Error) return reject(outcome);
          domain.state = 'paused';
          resolve(domain);
        });
      }),
    discard: async (domain) => {
      discarded.push(domain.id);
    },
  };
  return {
    impl,
    made,
    discarded,
    finish: (id: string, outcome: 'ready' | Error = 'ready') => finish.get(id)!(outcome),
  };
}

function logCapture() {
  const lines: Array<{ msg: string; appliance?: string }> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('one standby domain per listed appliance; take never waits for one being prepared', async () => {
  const f = factory();
  const pool = new StandbyPool(f.impl, logCapture().log);
  pool.enable(['desktop', 'browser']);
  assert.deepEqual(
    f.made.map((d) => d.appliance),
    ['desktop', 'browser'],
  );
  assert.equal(await pool.take('desktop'), null, 'still starting: not handed out');
  assert.equal(await pool.take('console'), null, 'not listed');
  f.finish('vm-0');
  await tick();
  const taken = await pool.take('desktop');
  assert.equal(taken?.id, 'vm-0');
  assert.equal(await pool.take('desktop'), null, 'taken once');
  pool.refill('desktop');
  assert.equal(f.made.length, 3, 'a replacement is prepared on request');
  pool.refill('desktop');
  assert.equal(f.made.length, 3, 'only one per appliance');
});

test('a standby domain that is no longer paused is not handed out', async () => {
  const f = factory();
  const pool = new StandbyPool(f.impl, logCapture().log);
  pool.enable(['browser']);
  f.finish('vm-0');
  await tick();
  f.made[0]!.state = 'crashed';
  assert.equal(await pool.take('browser'), null);
});

test('release discards ready standby domains; an empty list releases them too', async () => {
  const f = factory();
  const pool = new StandbyPool(f.impl, logCapture().log);
  pool.enable(['desktop', 'browser']);
  f.finish('vm-0');
  f.finish('vm-1');
  await pool.release();
  assert.deepEqual(f.discarded.sort(), ['vm-0', 'vm-1']);
  assert.equal(await pool.take('desktop'), null);

  pool.enable(['desktop']);
  f.finish('vm-2');
  await tick();
  pool.enable([]);
  await tick();
  assert.ok(f.discarded.includes('vm-2'));
  pool.refill('desktop');
  assert.equal(f.made.length, 3, 'an appliance no longer listed is not refilled');
});

test('a standby domain that fails to start is logged and leaves room for another try', async () => {
  const f = factory();
  const { log, lines } = logCapture();
  const pool = new StandbyPool(f.impl, log);
  pool.enable(['desktop']);
  f.finish('vm-0', new Error('golden snapshot missing'));
  await tick();
  assert.equal(await pool.take('desktop'), null);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.appliance]),
    [['no standby domain', 'desktop']],
  );
  pool.refill('desktop');
  assert.equal(f.made.length, 2);
});

test('stop waits for domains being prepared and refills nothing after', async () => {
  const f = factory();
  const pool = new StandbyPool(f.impl, logCapture().log);
  pool.enable(['desktop']);
  let stopped = false;
  const stopping = pool.stop().then(() => (stopped = true));
  await tick();
  assert.equal(stopped, false, 'waits for the domain being prepared');
  f.finish('vm-0');
  await stopping;
  pool.refill('desktop');
  assert.equal(f.made.length, 1);
  assert.deepEqual(f.discarded, [], 'the host ends them with every other domain');
});

test('a replacement asked for after a claim starts once the delay is over, and not after stop', async () => {
  const f = factory();
  const pool = new StandbyPool(f.impl, logCapture().log);
  pool.enable(['desktop']);
  f.finish('vm-0');
  await tick();
  assert.ok(await pool.take('desktop'));
  pool.refillAfter('desktop', 30);
  await tick();
  assert.equal(f.made.length, 1, 'nothing starts while the claimed domain is being attached');
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(f.made.length, 2, 'the replacement starts after the delay');
  f.finish('vm-1');
  await tick();
  assert.ok(await pool.take('desktop'));
  pool.refillAfter('desktop', 30);
  await pool.stop();
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(f.made.length, 2, 'a stopped pool starts no replacement');
});
