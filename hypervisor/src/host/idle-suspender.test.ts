import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { DomainKind } from '../api/protocol.ts';
import { IdleSuspender, type IdleCandidate } from './idle-suspender.ts';

function candidate(id: string, kind: DomainKind, idleMs: number): IdleCandidate {
  return { id, spec: { kind }, idleMs: () => idleMs };
}

function suspenderOver(domains: IdleCandidate[], suspend: (id: string) => Promise<unknown>) {
  const lines: Array<{ msg: string; domain?: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { suspender: new IdleSuspender({ domains: () => domains, suspend, log }), lines };
}

test('only personal domains idle past the limit are suspended', () => {
  const suspended: string[] = [];
  const { suspender } = suspenderOver(
    [
      candidate('vm-idle', 'personal', 60_000),
      candidate('vm-recent', 'personal', 10_000),
      candidate('vm-watched', 'personal', 0),
      candidate('vm-disposable', 'disposable', 60_000),
      candidate('vm-system', 'system', 60_000),
    ],
    async (id) => suspended.push(id),
  );
  suspender.enable(30);
  suspender.check();
  suspender.disable();
  assert.deepEqual(suspended, ['vm-idle']);
});

test('a domain being suspended is not asked again; a failure is logged and retried later', async () => {
  const calls: string[] = [];
  let fail: (error: Error) => void = () => undefined;
  const { suspender, lines } = suspenderOver([candidate('vm-slow', 'personal', 60_000)], (id) => {
    calls.push(id);
    return new Promise((_, reject) => (fail = reject));
  });
  suspender.enable(30);
  suspender.check();
  suspender.check();
  assert.equal(calls.length, 1, 'still suspending: not asked twice');
  fail(new Error('disk full'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(lines.some((l) => l.msg === 'idle suspend failed' && l.domain === 'vm-slow'));
  suspender.check();
  suspender.disable();
  assert.equal(calls.length, 2, 'tried again once the first attempt ended');
});

test('turned off (0 s or disabled) it suspends nothing', () => {
  const suspended: string[] = [];
  const { suspender } = suspenderOver([candidate('vm-idle', 'personal', 60_000)], async (id) =>
    suspended.push(id),
  );
  suspender.check();
  suspender.enable(0);
  suspender.check();
  suspender.enable(30);
  suspender.disable();
  suspender.check();
  assert.deepEqual(suspended, []);
});

test('its timer looks at the domains by itself', async () => {
  let suspend: (id: string) => void = () => undefined;
  const suspended = new Promise<string>((resolve) => (suspend = resolve));
  const { suspender } = suspenderOver([candidate('vm-idle', 'personal', 60_000)], async (id) =>
    suspend(id),
  );
  suspender.enable(0.02);
  // The suspender's timer does not keep the process alive; this one does, and bounds the wait.
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<string>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the timer never suspended it')), 10_000);
  });
  try {
    assert.equal(await Promise.race([suspended, gaveUp]), 'vm-idle');
  } finally {
    clearTimeout(timer);
    suspender.disable();
  }
});
