// A VM relocated between hypervisor hosts: the source host says `domain:moved`, and the gateway
// switches the VM's feed to the target host on the same viewer socket: frames then come from
// the target, input goes there, and the viewer never disconnects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCanvas } from 'canvas';
import { paintUpdate } from '../src/encoder/paint-canvas.ts';
import type { DisplayUpdate } from '../src/protocol/browser.ts';
import { FakeHypervisor, type FakeVm } from '../testing/fake-hypervisor.ts';
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
let target: FakeHypervisor;
let targetUrl: string;
before(async () => {
  h = await startHarness();
  target = new FakeHypervisor(SECRETS.hypervisor, 30);
  targetUrl = await target.listen();
});
after(async () => {
  await h.close();
  await target.close();
});

test('the feed follows a moved VM to its new host without the viewer reconnecting', async () => {
  const viewer = h.client({ vm: 'vm-1' });
  const frames = autoAck(viewer);
  await once(viewer, 'session:ready');
  await until(() => frames.frames > 0, 5000, 'frames from the source host');
  const source = h.hv.vms.get('vm-1')!;
  assert.ok(source.watchers.size > 0);

  // The relocation begins: the gateway connects to the target ahead, the VM stays where it is.
  h.hv.io.emit('domain:moving', { id: 'vm-1', hostId: 'host-b', url: targetUrl });
  await until(() => h.gateway.directory.hosts().some((host) => host.id === 'host-b'));
  assert.equal((await h.gateway.directory.hostFor('vm-1')).id, 'local');
  // The VM arrives on the target, then the source says so and forgets it.
  target.addVm('vm-1');
  h.hv.io.emit('domain:moved', { id: 'vm-1', hostId: 'host-b', url: targetUrl });
  h.hv.vms.delete('vm-1');
  await until(() => target.vms.get('vm-1')!.watchers.size > 0, 5000, 'a watch on the target');
  // The same desktop: the target's keyframe changes no pixel. Typing there does.
  const feed = h.gateway.feeds.get('vm-1')!;
  await until(() => feed.lastMove?.firstFrameAt != null, 5000, 'the target keyframe');
  assert.equal(feed.lastMove!.firstChangeAt, null, 'the same screen: nothing changed yet');
  const seen = frames.frames;
  viewer.emit('input:key', { code: 'KeyM', down: true });
  await until(() => target.keys.some((k) => k.id === 'vm-1' && k.code === 'KeyM'));
  await until(() => frames.frames > seen, 5000, 'the typed glyph painted from the target');
  assert.ok(feed.lastMove!.firstChangeAt !== null);
  assert.equal(
    h.hv.keys.some((k) => k.code === 'KeyM'),
    false,
    'input no longer goes to the source host',
  );
  assert.equal(viewer.connected, true);
  assert.equal((await h.gateway.directory.hostFor('vm-1')).id, 'host-b');
});

/** Paints a viewer's updates in order on a canvas, as the browser viewer does, acking each. */
function paintedCanvas(viewer: ViewerClient) {
  const canvas = createCanvas(1, 1);
  const ctx = canvas.getContext('2d');
  const updates: DisplayUpdate[] = [];
  let chain = Promise.resolve();
  viewer.on('display:update', (update) => {
    chain = chain.then(() => {
      if (update.width !== canvas.width || update.height !== canvas.height) {
        canvas.width = update.width;
        canvas.height = update.height;
      }
      paintUpdate(ctx, update.rects);
      updates.push(update);
      if (update.last) viewer.emit('frame:ack', { seq: update.seq });
    });
  });
  return {
    updates,
    /** The painted picture holds exactly the VM's pixels. */
    shows(vm: FakeVm): boolean {
      if (canvas.width !== vm.width || canvas.height !== vm.height) return false;
      const painted = ctx.getImageData(0, 0, vm.width, vm.height).data;
      return Buffer.compare(Buffer.from(painted.buffer), Buffer.from(vm.data)) === 0;
    },
  };
}

test('after a move the viewer shows the target screen, repainted only where it differs', async () => {
  h.hv.addVm('vm-3');
  const viewer = h.client({ vm: 'vm-3' });
  const painted = paintedCanvas(viewer);
  await once(viewer, 'session:ready');
  const source = h.hv.vms.get('vm-3')!;
  await until(() => painted.shows(source), 10_000, 'the source screen painted');
  h.hv.io.emit('domain:moving', { id: 'vm-3', hostId: 'host-b', url: targetUrl });
  // The target restores the same desktop; while the VM moves, the guest draws in one region.
  const moved = target.addVm('vm-3');
  target.fill(moved, 300, 380, 100, 40, [0xc8, 0x20, 0x20]);
  const before = painted.updates.length;
  const feed = h.gateway.feeds.get('vm-3')!;
  const versions = feed.fb.version.slice();
  const encodedBlocks = feed.keyframe.encodedBlocks;
  h.hv.io.emit('domain:moved', { id: 'vm-3', hostId: 'host-b', url: targetUrl });
  h.hv.vms.delete('vm-3');
  await until(() => painted.shows(moved), 10_000, "the target's screen painted");
  // The gateway compared the target's keyframe with its copy: only the tiles the red region
  // touches (x 256..448, y 320..448) changed, so the shared keyframe re-encodes one block.
  const touched = (t: number) => {
    const x = (t % feed.fb.tilesX) * 64;
    const y = Math.floor(t / feed.fb.tilesX) * 64;
    return x >= 256 && x < 448 && y >= 320 && y < 448;
  };
  versions.forEach((version, t) =>
    assert.equal(feed.fb.version[t] !== version, touched(t), `tile ${t} marked as it changed`),
  );
  const move = feed.lastMove!;
  assert.ok(move.firstFrameAt !== null && move.firstChangeAt !== null);
  assert.ok(move.firstChangeAt >= move.firstFrameAt, 'the region came in the first frame or later');
  await until(() => !feed.keyframe.stale(feed.fb), 5000, 'the keyframe brought up to date');
  assert.equal(feed.keyframe.encodedBlocks - encodedBlocks, 1);
  const after = painted.updates.slice(before);
  assert.ok(after.length > 0);
  assert.equal(
    after.some((u) => u.full),
    false,
    'no whole-screen frame: the target keyframe is diffed against what the viewer has',
  );
  // Only the 64x64 tiles the red region touches were sent: x 256..448, y 320..448.
  for (const rect of after.flatMap((u) => u.rects)) {
    assert.ok(
      rect.x >= 256 && rect.x + rect.w <= 448 && rect.y >= 320 && rect.y + rect.h <= 448,
      `rect ${JSON.stringify({ x: rect.x, y: rect.y, w: rect.w, h: rect.h })} outside the change`,
    );
  }
  assert.equal(viewer.connected, true);
});

test('a malformed moved event is ignored', async () => {
  const viewer = h.client({ vm: 'vm-2' });
  await once(viewer, 'session:ready');
  h.hv.io.emit('domain:moved', { id: 'vm-2', hostId: 'x', url: 'not a url' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await h.gateway.directory.hostFor('vm-2')).id, 'local');
});
