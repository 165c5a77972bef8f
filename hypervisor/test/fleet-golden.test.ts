// Golden snapshots across a fleet: two real hosts registered in a real PostgreSQL; the second
// has its own cache (the same guest images, no golden snapshots). Its first console VM starts
// from the golden snapshot fetched from the first host (HYPERVISOR_SECRET as bearer), verified
// by recipe hash and sha256 and kept in its own store, instead of a cold boot.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deployMigrations } from '@raydesk/db/setup';
import { startTestPostgres, type TestPostgres } from '@raydesk/db/testing';
import { loadConfig } from '../src/config.ts';
import { startEphemeralHypervisor, type RunningHypervisor } from '../src/host/index.ts';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let pg: TestPostgres;
const cache = mkdtempSync(join(tmpdir(), 'raydesk-peer-cache-'));
const running: RunningHypervisor[] = [];

before(async () => {
  pg = await startTestPostgres();
  deployMigrations(pg.url);
  // The second host's cache: the shared images and kernels, its own (empty) golden folder.
  const shared = loadConfig({ ...process.env, HYPERVISOR_SECRET: 'unused-here' }).cacheDir;
  for (const folder of ['appliances', 'kernels'])
    if (existsSync(join(shared, folder))) symlinkSync(join(shared, folder), join(cache, folder));
});

after(async () => {
  for (const hv of running) await hv.close().catch(() => undefined);
  await pg?.stop();
  rmSync(cache, { recursive: true, force: true });
});

test('a host lacking a golden snapshot fetches it from a peer and starts its VM from it', async () => {
  const secret = `fleet-golden-${Date.now()}`;
  const fleet = { databaseUrl: pg.url, publicUrl: null, heartbeatMs: 500 };
  const first = await startEphemeralHypervisor({
    hostId: 'host-a',
    secret,
    standbyAppliances: [],
    fleet,
  });
  running.push(first);
  const offered = await first.host.goldenStore.offer('console');
  assert.ok(offered, 'the first host has the console snapshot (npm test prepares it)');

  const second = await startEphemeralHypervisor({
    hostId: 'host-b',
    secret,
    cacheDir: cache,
    standbyAppliances: [],
    fleet,
  });
  running.push(second);
  assert.equal(await second.host.goldenStore.find('console'), null, 'nothing in its cache yet');

  const domain = await second.host.create({ appliance: 'console', name: 'from-a-peer' });
  const fetched = await second.host.goldenStore.find('console');
  assert.ok(fetched, 'the snapshot is in the second host’s store');
  assert.deepEqual(fetched, offered.manifest);
  const { state } = await second.host.goldenStore.paths('console');
  assert.equal(sha256(state), offered.sha256);
  assert.ok(state.startsWith(cache), 'stored in its own cache');
  assert.equal(domain.spec.appliance, 'console');
  await second.host.destroy(domain.id);
});
