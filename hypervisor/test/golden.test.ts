// Building a golden snapshot as `npm start`'s setup does (no running host): a real console guest
// cold-boots, says it is ready, and its state is saved to a store of its own (not the shared
// cache, whose snapshots other runs use).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { GoldenBuildDomains } from '../src/host/golden-domains.ts';
import { GoldenSnapshots } from '../src/snapshots/golden.ts';
import { GoldenStore } from '../src/snapshots/golden-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'raydesk-golden-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the console appliance cold-boots and is saved as a golden snapshot', async () => {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const domains = new GoldenBuildDomains(
    loadConfig({ ...process.env, HYPERVISOR_SECRET: 'golden-test-secret', RAYDESK_DATA_DIR: dir }),
    log,
  );
  const store = new GoldenStore(join(dir, 'golden'), (appliance) => domains.image(appliance));
  const golden = new GoldenSnapshots(store, domains, log);
  try {
    const phases: string[] = [];
    const manifest = await golden.ensure('console', (phase) => phases.push(phase));
    assert.deepEqual(phases, ['boot', 'settle', 'save', 'done']);
    const image = await domains.image('console');
    assert.equal(manifest.recipeHash, image.recipeHash);
    assert.equal(manifest.imageBuildId, image.buildId);
    assert.ok(manifest.coldBootMs > 0 && manifest.fileBytes > 0);
    const state = await golden.state('console');
    assert.equal(state.byteLength, manifest.rawBytes);
  } finally {
    await domains.close();
  }
});
