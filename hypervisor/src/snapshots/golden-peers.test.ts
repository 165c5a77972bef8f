// Golden snapshots from a peer host over HTTP (bearer secret): fetched, verified by recipe hash
// and sha256, and stored; a wrong credential, another image or a corrupted file leave nothing.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { ApplianceName } from '../api/protocol.ts';
import { fetchGoldenFromPeers, serveGolden } from './golden-peers.ts';
import { GoldenStore } from './golden-store.ts';

const SECRET = 'golden-peer-test-secret';
const root = mkdtempSync(join(tmpdir(), 'golden-peers-'));
const log = pino({ level: 'silent' });
const storeIn = (name: string, recipeHash: string, buildId = 'build-1') =>
  new GoldenStore(join(root, name), async (_appliance: ApplianceName) => ({ recipeHash, buildId }));
const source = storeIn('source', 'recipe-a');
let server: Server;
let url = '';
/** Flips a byte of every state file the peer sends (a corrupted transfer). */
let corrupt = false;

before(async () => {
  await source.save(
    'console',
    new Uint8Array(512 * 1024).map((_, i) => i % 251).buffer,
    { memoryMiB: 64, vgaMemoryMiB: 8 },
    { coldBootMs: 9_000, settleMs: 3_000 },
  );
  server = createServer((req, res) => {
    const write = res.write.bind(res);
    if (corrupt && req.url?.endsWith('/state')) {
      res.write = ((chunk: Buffer, ...rest: never[]) => {
        const copy = Buffer.from(chunk);
        copy[copy.length - 1] = copy[copy.length - 1]! ^ 0xff;
        return write(copy, ...rest);
      }) as typeof res.write;
    }
    void serveGolden(source, (r) => r.headers.authorization === `Bearer ${SECRET}`, req, res).then(
      (served) => {
        if (!served) res.writeHead(404).end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

const peers = (secret = SECRET) => ({
  secret,
  peers: async () => [
    { id: 'gone', url: 'http://127.0.0.1:1' },
    { id: 'peer', url },
  ],
});

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
  corrupt = true;
  try {
    assert.equal(
      await fetchGoldenFromPeers({ store: damaged, appliance: 'console', source: peers(), log }),
      null,
    );
  } finally {
    corrupt = false;
  }
  assert.equal(await damaged.find('console'), null);
});

test('an appliance the peer has no snapshot of: 404, nothing fetched', async () => {
  const res = await fetch(`${url}/golden/desktop`, {
    headers: { authorization: `Bearer ${SECRET}` },
  });
  assert.equal(res.status, 404);
  const unauthorized = await fetch(`${url}/golden/console/state`);
  assert.equal(unauthorized.status, 401);
});
