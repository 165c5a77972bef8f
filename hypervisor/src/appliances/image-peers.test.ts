// Appliance images from a peer host over HTTP (bearer secret): fetched into the cache as the
// peer's very build (same buildId), byte for byte and still sparse, instead of being built; a
// wrong credential, another recipe or a corrupted file leave nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { startTestPeer, type TestPeer } from '../testing/peer-server.ts';
import type { ApplianceManifest } from './build.ts';
import { applianceDir, recipeHash } from './cache.ts';
import { ImageOffers, fetchImageFromPeers, serveImage } from './image-peers.ts';
import { ensureAppliance, findAppliance } from './index.ts';
import { getRecipe } from './recipes.ts';

const SECRET = 'image-peer-test-secret';
const root = mkdtempSync(join(tmpdir(), 'image-peers-'));
const log = pino({ level: 'silent' });
const recipe = getRecipe('console');
const hash = recipeHash({ recipe });
const peerCache = join(root, 'peer', 'appliances');
const ROOTFS_BYTES = 4 * 1024 * 1024 + 1000;
let peer: TestPeer;

before(async () => {
  // The peer's cached console image: small stand-ins for the files, a mostly empty rootfs.
  const dir = applianceDir(recipe, hash, peerCache);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vmlinuz'), randomBytes(100_000));
  writeFileSync(join(dir, 'initrd.img'), randomBytes(50_000));
  const rootfs = Buffer.alloc(ROOTFS_BYTES);
  randomBytes(8192).copy(rootfs, 1024 * 1024);
  rootfs.fill(7, ROOTFS_BYTES - 1000);
  writeFileSync(join(dir, 'rootfs.ext4'), rootfs);
  const manifest: ApplianceManifest = {
    name: 'console',
    recipeHash: hash,
    kernelVersion: '6.1.0-raydesk',
    files: { vmlinuz: 100_000, 'initrd.img': 50_000, 'rootfs.ext4': ROOTFS_BYTES },
    rootfsContentBytes: 9192,
    buildSeconds: 300,
    cmdline: 'console=ttyS0',
    memoryMiB: 96,
    vgaMemoryMiB: 2,
    packages: ['busybox-static'],
    builtAt: new Date().toISOString(),
    buildId: 'feedfacefeedface',
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));

  const offers = new ImageOffers((name) => findAppliance(name, peerCache));
  peer = await startTestPeer(
    (authorized, req, res) => serveImage(offers, authorized, req, res),
    SECRET,
    '/rootfs.ext4',
  );
});

after(async () => {
  await peer.close();
  rmSync(root, { recursive: true, force: true });
});

const peers = (secret = SECRET) => peer.peers(secret);

test("a host lacking the image gets the peer's build, byte for byte and sparse, not a build of its own", async () => {
  const cacheDir = join(root, 'target', 'appliances');
  assert.equal(findAppliance('console', cacheDir), null);
  const image = await ensureAppliance('console', {
    cacheDir,
    // A failed fetch would start a real build: make it fail the test instead.
    fetchImage: async (target) => {
      if (await fetchImageFromPeers(target, peers(), log)) return true;
      throw new Error('the fetch from the peer failed');
    },
  });
  assert.equal(image.buildId, 'feedfacefeedface', "the peer's build");
  assert.equal(image.recipeHash, hash);
  assert.ok(image.dir.startsWith(cacheDir));
  const peerDir = applianceDir(recipe, hash, peerCache);
  for (const file of ['vmlinuz', 'initrd.img', 'rootfs.ext4'])
    assert.ok(readFileSync(join(image.dir, file)).equals(readFileSync(join(peerDir, file))), file);
  const rootfs = statSync(image.rootfs);
  assert.equal(rootfs.size, ROOTFS_BYTES);
  assert.ok(rootfs.blocks * 512 < 1024 * 1024, `holes kept: ${rootfs.blocks * 512} bytes used`);
  assert.deepEqual(findAppliance('console', cacheDir), image);
  assert.deepEqual(
    readdirSync(cacheDir).filter((f) => f.includes('.fetch-')),
    [],
    'no temp folder left',
  );
});

test('a wrong credential, another recipe or a corrupted file fetch nothing', async () => {
  const target = (name: string, recipeHashWanted = hash) => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    return { appliance: 'console' as const, recipeHash: recipeHashWanted, dir };
  };
  assert.equal(await fetchImageFromPeers(target('wrong-secret'), peers('nope'), log), false);
  assert.deepEqual(readdirSync(join(root, 'wrong-secret')), []);
  assert.equal(
    await fetchImageFromPeers(target('other-recipe', '0123456789abcdef'), peers(), log),
    false,
  );
  assert.deepEqual(readdirSync(join(root, 'other-recipe')), []);
  peer.corrupt = true;
  try {
    assert.equal(await fetchImageFromPeers(target('corrupted'), peers(), log), false);
  } finally {
    peer.corrupt = false;
  }
  assert.ok(
    !readdirSync(join(root, 'corrupted')).includes('manifest.json'),
    'no manifest: not an image',
  );
});
