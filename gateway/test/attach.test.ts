// Attaching quickly: a second viewer's first frame comes from the feed's encoded keyframe and is
// the current desktop; a feed the portal prepares watches the VM before any viewer arrives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DisplayUpdate, SessionReady, WireRect } from '../src/protocol/browser.ts';
import { paintRects } from '../src/encoder/fixtures.ts';
import {
  SECRETS,
  autoAck,
  once,
  startHarness,
  until,
  type Harness,
  type ViewerClient,
} from '../testing/helpers.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

/** The first full frame a viewer receives (all its parts), acknowledged. */
async function firstFullFrame(c: ViewerClient): Promise<{ rects: WireRect[]; seq: number }> {
  const rects: WireRect[] = [];
  for (;;) {
    const part = await once<DisplayUpdate>(c, 'display:update');
    if (!part.full) continue;
    rects.push(...part.rects);
    if (part.last) {
      c.emit('frame:ack', { seq: part.seq });
      return { rects, seq: part.seq };
    }
  }
}

async function keyframeBlocks(): Promise<{ encoded: number; reused: number }> {
  const { values } = await h.gateway.metrics.keyframeBlocks.get();
  const count = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { encoded: count('encoded'), reused: count('reused') };
}

test("a second viewer's first frame is the current desktop, from the feed's keyframe, with no new watch", async () => {
  const vm = h.hv.vms.get('vm-1')!;
  const a = h.client({ name: 'First' });
  await once<SessionReady>(a, 'session:ready');
  await firstFullFrame(a);
  autoAck(a);
  // The desktop changes after the first viewer attached: a striped (lossless) patch and a fill.
  for (let i = 0; i < 12; i++) h.hv.fill(vm, 100 + i * 6, 150, 3, 40, [i * 20, 200, 255 - i * 20]);
  h.hv.fill(vm, 300, 300, 130, 70, [0xee, 0x77, 0x11]);
  const feed = h.gateway.feeds.get('vm-1')!;
  await until(
    () => Buffer.compare(Buffer.from(feed.fb.data), Buffer.from(vm.data)) === 0,
    3000,
    'the gateway to have the change',
  );
  const watches = h.hv.watchCalls;
  const blocksBefore = await keyframeBlocks();
  const b = h.client({ name: 'Second', sub: 'user-1' });
  const ready = await once<SessionReady>(b, 'session:ready');
  const frame = await firstFullFrame(b);
  assert.deepEqual(paintRects(frame.rects, ready.width, ready.height), vm.data);
  assert.equal(h.hv.watchCalls, watches, 'the hypervisor was not asked for a keyframe');
  const blocks = await keyframeBlocks();
  assert.ok(
    blocks.reused > blocksBefore.reused,
    `keyframe blocks reused: ${JSON.stringify(blocks)}`,
  );
  a.disconnect();
  b.disconnect();
});

test("a busy screen's first frame reaches the viewer in parts socket.io's decoder accepts", async () => {
  const vm = h.hv.vms.get('vm-1')!;
  // Something striped in every 128x128 area: the keyframe is dozens of images, more than one
  // socket.io packet may carry (10 binary attachments) in a browser or here.
  for (let y = 0; y + 128 <= vm.height; y += 128)
    for (let x = 0; x + 128 <= vm.width; x += 128)
      for (let i = 0; i < 6; i++)
        h.hv.fill(vm, x + 10 + i * 8, y + 20, 3, 60, [x % 256, y % 256, i * 40]);
  const a = h.client({ name: 'First' });
  await once<SessionReady>(a, 'session:ready');
  await firstFullFrame(a);
  const feed = h.gateway.feeds.get('vm-1')!;
  await until(
    () => Buffer.compare(Buffer.from(feed.fb.data), Buffer.from(vm.data)) === 0,
    3000,
    'the gateway to have the busy screen',
  );
  const b = h.client({ name: 'Second', sub: 'user-1' });
  const parts: DisplayUpdate[] = [];
  b.on('display:update', (part: DisplayUpdate) => parts.push(part));
  const ready = await once<SessionReady>(b, 'session:ready');
  const frame = await firstFullFrame(b);
  const images = parts.map((p) => p.rects.filter((r) => r.enc !== 'fill').length);
  assert.ok(images.reduce((x, y) => x + y, 0) > 10, `images per part: ${images.join(',')}`);
  assert.ok(Math.max(...images) <= 10, `images per part: ${images.join(',')}`);
  assert.deepEqual(paintRects(frame.rects, ready.width, ready.height), vm.data);
  assert.equal(b.connected, true, 'the viewer kept its socket');
  a.disconnect();
  b.disconnect();
});

test('viewers of different VMs never share a keyframe', async () => {
  const one = h.client({ vm: 'vm-1' });
  const two = h.client({ vm: 'vm-2', sub: 'user-2' });
  const [r1, r2] = await Promise.all([
    once<SessionReady>(one, 'session:ready'),
    once<SessionReady>(two, 'session:ready'),
  ]);
  const [f1, f2] = await Promise.all([firstFullFrame(one), firstFullFrame(two)]);
  assert.deepEqual(paintRects(f1.rects, r1.width, r1.height), h.hv.vms.get('vm-1')!.data);
  assert.deepEqual(paintRects(f2.rects, r2.width, r2.height), h.hv.vms.get('vm-2')!.data);
  assert.notEqual(h.gateway.feeds.get('vm-1')!.keyframe, h.gateway.feeds.get('vm-2')!.keyframe);
  one.disconnect();
  two.disconnect();
  await until(() => h.gateway.feeds.size === 0, 3000, 'feeds to stop after their linger');
});

test('a feed the portal prepares watches the VM before any viewer; the viewer then attaches to it', async () => {
  const url = `${h.url}/internal/vms/vm-2/feed`;
  const post = (body: unknown, secret = SECRETS.gateway) =>
    fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  assert.equal((await post({}, 'wrong-secret')).status, 401);
  assert.equal((await post({ host: 'not-an-address' })).status, 400);
  assert.equal((await post({ extra: true })).status, 400);
  const watches = h.hv.watchCalls;
  assert.equal((await post({})).status, 202);
  const feed = h.gateway.feeds.get('vm-2');
  assert.ok(feed, 'the feed exists before any viewer');
  await until(() => feed.live, 3000, 'the prepared feed to have its picture');
  assert.equal(h.hv.watchCalls, watches + 1);
  // Once the screen settled, the keyframe is encoded ahead of the viewer.
  await until(() => !feed.keyframe.stale(feed.fb), 3000, 'the keyframe to be encoded');
  const c = h.client({ vm: 'vm-2' });
  const ready = await once<SessionReady>(c, 'session:ready');
  const frame = await firstFullFrame(c);
  assert.deepEqual(paintRects(frame.rects, ready.width, ready.height), h.hv.vms.get('vm-2')!.data);
  assert.equal(h.hv.watchCalls, watches + 1, 'the viewer used the prepared watch');
  assert.equal(h.gateway.feeds.get('vm-2'), feed);
  c.disconnect();
});

test('a prepared feed that no viewer attaches to stops after its linger', async () => {
  const unwatches = h.hv.unwatchCalls;
  const feed = await h.gateway.feeds.prepare('vm-1', 150);
  await until(() => feed.live, 3000, 'the prepared feed to have its picture');
  await until(() => h.gateway.feeds.get('vm-1') === undefined, 3000, 'the feed to stop');
  await until(() => h.hv.unwatchCalls > unwatches, 3000, 'the watch to end');
});
