// Golden snapshots and images across a fleet: real hosts registered in a real PostgreSQL. The
// second has its own cache (the same guest images, no golden snapshots): its first console VM
// starts from the golden snapshot fetched from the first host (HYPERVISOR_SECRET as bearer),
// verified by recipe hash, build and sha256 and kept in its own store, instead of a cold boot.
// The third has an empty cache, as on a machine of its own: it fetches the image too.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deployMigrations } from '@raydesk/db/setup';
import { startTestPostgres, type TestPostgres } from '@raydesk/db/testing';
import { loadConfig } from '../src/config.ts';
import { HypervisorClient } from '../src/api/index.ts';
import { startEphemeralHypervisor, type RunningHypervisor } from '../src/host/index.ts';
import { run, waitForShell } from './daemon.ts';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let pg: TestPostgres;
const cache = mkdtempSync(join(tmpdir(), 'raydesk-peer-cache-'));
const emptyCache = mkdtempSync(join(tmpdir(), 'raydesk-empty-cache-'));
const secret = `fleet-golden-${Date.now()}`;
let first: RunningHypervisor;
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
  rmSync(emptyCache, { recursive: true, force: true });
});

test('a host lacking a golden snapshot fetches it from a peer and starts its VM from it', async () => {
  const fleet = { databaseUrl: pg.url, publicUrl: null, heartbeatMs: 500 };
  first = await startEphemeralHypervisor({
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

test('a host with an empty cache fetches the image and the snapshot from a peer; its VM runs', async () => {
  const image = await first.host.appliance('console');
  const third = await startEphemeralHypervisor({
    hostId: 'host-c',
    secret,
    cacheDir: emptyCache,
    standbyAppliances: [],
    fleet: { databaseUrl: pg.url, publicUrl: null, heartbeatMs: 500 },
  });
  running.push(third);
  const client = new HypervisorClient({ url: third.url, secret, timeoutMs: 300_000 });
  try {
    const started = Date.now();
    const vm = await client.create({ appliance: 'console', name: 'image-from-a-peer' });
    const ms = Date.now() - started;
    const fetched = await third.host.appliance('console');
    assert.ok(fetched.dir.startsWith(emptyCache), 'the image is in its own cache');
    assert.equal(fetched.buildId, image.buildId, "the peer's build, not one of its own");
    assert.equal(sha256(fetched.rootfs), sha256(image.rootfs));
    const golden = await third.host.goldenStore.find('console');
    assert.equal(golden?.imageBuildId, image.buildId, 'the snapshot came along');
    // The VM resumed from the peer's snapshot on the fetched disk works.
    await waitForShell(client, vm.id);
    const [, sum] = await run(client, vm.id, 'echo SUM-$((20+22))', /SUM-(\d+)/);
    assert.equal(sum, '42');
    console.log(`# console VM on an empty cache, image and snapshot from a peer: ${ms} ms`);
  } finally {
    client.close();
  }
});
