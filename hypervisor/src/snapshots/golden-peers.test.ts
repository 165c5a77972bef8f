// Golden snapshots from a peer host over HTTP (bearer secret): fetched, verified by recipe hash
// and sha256, and stored; a wrong credential, another image or a corrupted file leave nothing.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { startTestPeer, type TestPeer } from '../testing/peer-server.ts';
import type { ApplianceName } from '../api/protocol.ts';
import { fetchGoldenFromPeers, serveGolden } from './golden-peers.ts';
import { GoldenStore } from './golden-store.ts';

const SECRET = 'golden-peer-test-secret';
const root = mkdtempSync(join(tmpdir(), 'golden-peers-'));
const log = pino({ level: 'silent' });
const storeIn = (name: string, recipeHash: string, buildId = 'build-1') =>
  new GoldenStore(join(root, name), async (_appliance: ApplianceName) => ({ recipeHash, buildId }));
const source = storeIn('source', 'recipe-a');
let peer: TestPeer;

before(async () => {
  await source.save(
    'console',
    new Uint8Array(512 * 1024).map((_, i) => i % 251).buffer,
    { memoryMiB: 64, vgaMemoryMiB: 8 },
    { coldBootMs: 9_000, settleMs: 3_000 },
  );
  peer = await startTestPeer(
    (authorized, req, res) => serveGolden(source, authorized, req, res),
    SECRET,
    '/state',
  );
});

after(async () => {
  await peer.close();
  rmSync(root, { recursive: true, force: true });
});

const peers = (secret = SECRET) => peer.peers(secret);

test('a host lacking the snapshot fetches it from a peer, verified, byte for byte', async () => {
  const target = storeIn('target', 'recipe-a');
  assert.equal(await target.find('console'), null);
  const manifest = await fetchGoldenFromPeers({
    store: target,
    appliance: 'console',
    source: peers(),
    log,
  });
  assert.ok(manifest, 'fetched');
  assert.deepEqual(manifest, await source.find('console'));
  assert.deepEqual(await target.find('console'), manifest);
  assert.deepEqual(
    readFileSync((await target.paths('console')).state),
    readFileSync((await source.paths('console')).state),
  );
  const loaded = new Uint8Array(await target.load('console'));
  assert.equal(loaded[250], 250);
  assert.equal(loaded[251], 0);
});

test('a wrong credential, another image or build of it, or a corrupted file leave the store empty', async () => {
  const wrongSecret = storeIn('wrong-secret', 'recipe-a');
  assert.equal(
    await fetchGoldenFromPeers({
      store: wrongSecret,
      appliance: 'console',
      source: peers('not-the-secret'),
      log,
    }),
    null,
  );
  assert.equal(await wrongSecret.find('console'), null);

  const otherImage = storeIn('other-image', 'recipe-b');
  assert.equal(
    await fetchGoldenFromPeers({ store: otherImage, appliance: 'console', source: peers(), log }),
    null,
  );
  assert.equal(await otherImage.find('console'), null);

  // The same recipe built on that host on its own: its snapshot's guest knows another disk.
  const otherBuild = storeIn('other-build', 'recipe-a', 'build-2');
  assert.equal(
    await fetchGoldenFromPeers({ store: otherBuild, appliance: 'console', source: peers(), log }),
    null,
  );
  assert.equal(await otherBuild.find('console'), null);

  const damaged = storeIn('damaged', 'recipe-a');
  peer.corrupt = true;
  try {
    assert.equal(
      await fetchGoldenFromPeers({ store: damaged, appliance: 'console', source: peers(), log }),
      null,
    );
  } finally {
    peer.corrupt = false;
  }
  assert.equal(await damaged.find('console'), null);
});

test('an appliance the peer has no snapshot of: 404, nothing fetched', async () => {
  const res = await fetch(`${peer.url}/golden/desktop`, {
    headers: { authorization: `Bearer ${SECRET}` },
  });
  assert.equal(res.status, 404);
  const unauthorized = await fetch(`${peer.url}/golden/console/state`);
  assert.equal(unauthorized.status, 401);
});
