// Building a golden snapshot, with a domain factory whose "guest" is scripted by the test: the
// orchestration (ready, settle, save, always destroy) without booting v86.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import type { ApplianceName } from '../api/protocol.ts';
import { GoldenSnapshots, type GoldenDomain, type GoldenDomainFactory } from './golden.ts';
import { GoldenStore } from './golden-store.ts';

const root = mkdtempSync(join(tmpdir(), 'golden-'));
after(() => rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });
const fast = { readyMs: 2_000, settleQuietMs: 50, settleMaxMs: 2_000 };

class ScriptedDomain extends EventEmitter implements GoldenDomain {
  readonly spec = { memoryMiB: 64, vgaMemoryMiB: 8 };
  readonly watchers = new Set<string>();
  captured = 0;
  constructor(
    readonly id: string,
    private readonly ready: boolean,
  ) {
    super();
  }
  async waitForAgentEvent(pattern: RegExp, timeoutMs: number): Promise<string> {
    if (this.ready && pattern.test('* ready console')) return '* ready console';
    throw new Error(`no agent event ${pattern} within ${timeoutMs} ms`);
  }
  watch(watcherId: string): void {
    this.watchers.add(watcherId);
    // The screen keeps changing for a moment after watching starts, then settles.
    for (const ms of [5, 20, 35]) setTimeout(() => this.emit('frame'), ms);
  }
  unwatch(watcherId: string): void {
    this.watchers.delete(watcherId);
  }
  async captureState<T>(stop: boolean, persist: (state: ArrayBuffer) => Promise<T>): Promise<T> {
    assert.equal(stop, false, 'the golden domain keeps running until it is destroyed');
    this.captured++;
    return persist(new Uint8Array(64 * 1024).fill(9).buffer);
  }
}

function factory(ready = true) {
  const booted: ScriptedDomain[] = [];
  const destroyed: string[] = [];
  const impl: GoldenDomainFactory = {
    coldBoot: async (appliance: ApplianceName) => {
      const domain = new ScriptedDomain(`vm-golden-${appliance}-${booted.length}`, ready);
      booted.push(domain);
      return domain;
    },
    destroy: async (domain) => {
      destroyed.push(domain.id);
    },
  };
  return { impl, booted, destroyed };
}

test('a missing snapshot is built once: ready, settled, saved, its domain destroyed', async () => {
  const store = new GoldenStore(join(root, 'build'), async () => ({
    recipeHash: 'h1',
    buildId: 'b1',
  }));
  const f = factory();
  const golden = new GoldenSnapshots(store, f.impl, log, fast);
  const phases: string[] = [];
  const [a, b] = await Promise.all([
    golden.ensure('console', (phase) => phases.push(phase)),
    golden.ensure('console'),
  ]);
  assert.deepEqual(a, b, 'two callers share one build');
  assert.equal(f.booted.length, 1);
  assert.deepEqual(phases, ['boot', 'settle', 'save', 'done']);
  assert.deepEqual(f.destroyed, [f.booted[0]!.id]);
  assert.equal(f.booted[0]!.watchers.size, 0, 'stopped watching the screen');
  assert.ok(a.settleMs >= fast.settleQuietMs);
  assert.deepEqual(await store.find('console'), a);

  const state = new Uint8Array(await golden.state('console'));
  assert.ok(state.length === 64 * 1024 && state.every((byte) => byte === 9));
  assert.equal(f.booted.length, 1, 'a built snapshot is not built again');
  assert.deepEqual(await golden.preload('console'), a);
});

test('a guest that never says ready fails the build, and its domain is destroyed anyway', async () => {
  const store = new GoldenStore(join(root, 'never-ready'), async () => ({
    recipeHash: 'h2',
    buildId: 'b2',
  }));
  const f = factory(false);
  const golden = new GoldenSnapshots(store, f.impl, log, fast);
  await assert.rejects(golden.state('console'), /no agent event/);
  assert.deepEqual(f.destroyed, [f.booted[0]!.id]);
  assert.equal(f.booted[0]!.captured, 0);
  assert.equal(await store.find('console'), null);
  assert.equal(await golden.preload('console'), null, 'nothing to preload, nothing built');
  assert.equal(f.booted.length, 1);
});
