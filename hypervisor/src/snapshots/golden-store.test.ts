import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ApplianceName } from '../api/protocol.ts';
import { STALE_IMAGE_DAYS } from '../appliances/index.ts';
import { GoldenStore, v86Version } from './golden-store.ts';

const root = mkdtempSync(join(tmpdir(), 'golden-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * A store whose appliances have the recipe hashes in `hashes` and the image builds in `builds`
 * (both changed by tests).
 */
function storeIn(
  name: string,
  hashes: Partial<Record<ApplianceName, string>>,
  builds: Partial<Record<ApplianceName, string>> = {},
) {
  return new GoldenStore(join(root, name), async (appliance) => ({
    recipeHash: hashes[appliance] ?? 'none',
    buildId: builds[appliance] ?? 'build-1',
  }));
}
const machine = { memoryMiB: 64, vgaMemoryMiB: 8 };
const timings = { coldBootMs: 8_600, settleMs: 3_100 };
const memory = (fill: number) => new Uint8Array(256 * 1024).fill(fill).buffer;

test('a saved snapshot is found, verified and loaded back byte for byte', async () => {
  const store = storeIn('roundtrip', { console: 'aaaa' });
  assert.equal(await store.find('console'), null, 'nothing built yet');
  const manifest = await store.save('console', memory(7), machine, timings);
  assert.equal(manifest.recipeHash, 'aaaa');
  assert.equal(manifest.v86Version, v86Version());
  assert.equal(manifest.rawBytes, 256 * 1024);
  assert.equal(manifest.coldBootMs, 8_600);
  assert.ok(manifest.saveMs >= 0 && manifest.fileBytes > 0);
  assert.deepEqual(await store.find('console'), manifest);
  const loaded = new Uint8Array(await store.load('console'));
  assert.equal(loaded.length, 256 * 1024);
  assert.ok(loaded.every((b) => b === 7));
  const { state } = await store.paths('console');
  assert.match(state, /console-aaaa-v86_.*-g1\.state$/);
});

test('a new image makes the old snapshot stale: not found, and pruned by the next save once its image is gone', async () => {
  const hashes: Partial<Record<ApplianceName, string>> = { console: 'old1', desktop: 'desk' };
  const store = storeIn('stale', hashes);
  await store.save('console', memory(1), machine, timings);
  await store.save('desktop', memory(2), machine, timings);
  hashes.console = 'new2';
  assert.equal(await store.find('console'), null, 'made for another image');
  await store.save('console', memory(3), machine, timings);
  const files = readdirSync(store.dir).sort();
  assert.equal(files.filter((f) => f.startsWith('console-old1')).length, 0, 'old one evicted');
  assert.equal(files.filter((f) => f.startsWith('console-new2')).length, 2);
  assert.equal(files.filter((f) => f.startsWith('desktop-')).length, 2, 'other appliances kept');
});

test('another build of the same recipe makes the snapshot stale; the next save replaces it', async () => {
  // Two builds of one recipe have different file systems; a guest booted on one and resumed on
  // the other writes the first one's cached metadata onto the second disk.
  const builds: Partial<Record<ApplianceName, string>> = { console: 'first' };
  const store = storeIn('rebuilt', { console: 'same' }, builds);
  const first = await store.save('console', memory(1), machine, timings);
  assert.equal(first.imageBuildId, 'first');
  builds.console = 'second';
  assert.equal(await store.find('console'), null, 'made on the first build');
  assert.equal(await store.matches('console', first), false);
  const second = await store.save('console', memory(2), machine, timings);
  assert.equal(second.imageBuildId, 'second');
  assert.deepEqual(await store.find('console'), second);
  assert.ok(new Uint8Array(await store.load('console')).every((b) => b === 2));
});

test('a manifest without its state, or one that does not read, is not a snapshot', async () => {
  const store = storeIn('damaged', { console: 'bbbb', browser: 'cccc' });
  await store.save('console', memory(4), machine, timings);
  rmSync((await store.paths('console')).state);
  assert.equal(await store.find('console'), null);
  assert.notEqual(await store.manifest('console'), null, 'the manifest alone is still there');

  await store.save('browser', memory(5), machine, timings);
  const { manifest } = await store.paths('browser');
  writeFileSync(manifest, '{"appliance": "browser", "recip');
  assert.equal(await store.find('browser'), null);
  writeFileSync(manifest, JSON.stringify({ appliance: 'browser', recipeHash: 'cccc' }));
  assert.equal(await store.find('browser'), null, 'fields missing');
  assert.ok(existsSync((await store.paths('browser')).state));
});

test("another recipe's snapshot stays while its image is cached and used; then it goes", () => {
  const dir = join(root, 'shared', 'golden');
  const images = join(root, 'shared', 'appliances');
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(images, 'desktop-aaaa'), { recursive: true });
  const store = new GoldenStore(
    dir,
    async () => ({ recipeHash: 'cccc', buildId: 'build-1' }),
    images,
  );
  const file = (hash: string) => `desktop-${hash}-v86_0.5.462+g5f9a90f-g1.state`;
  for (const hash of ['aaaa', 'bbbb', 'cccc']) writeFileSync(join(dir, file(hash)), 'state');
  writeFileSync(join(dir, 'console-dddd-v86_0.5.462+g5f9a90f-g1.state'), 'state');
  const current = { state: join(dir, file('cccc')), manifest: join(dir, 'none.json') };

  // bbbb's image is gone: its snapshot can never be used again. aaaa's image is still cached
  // (another checkout runs that recipe), the console's belongs to another appliance.
  assert.deepEqual(store.pruneStale('desktop', current), [file('bbbb')]);
  assert.deepEqual(readdirSync(dir).sort(), [
    'console-dddd-v86_0.5.462+g5f9a90f-g1.state',
    file('aaaa'),
    file('cccc'),
  ]);

  const longAgo = new Date(Date.now() - (STALE_IMAGE_DAYS + 1) * 86_400_000);
  utimesSync(join(dir, file('aaaa')), longAgo, longAgo);
  utimesSync(join(dir, file('cccc')), longAgo, longAgo);
  assert.deepEqual(store.pruneStale('desktop', current), [file('aaaa')]);
});
