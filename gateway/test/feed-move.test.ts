// A VM relocated between hypervisor hosts: the source host says `domain:moved`, and the gateway
// switches the VM's feed to the target host on the same viewer socket: frames then come from
// the target, input goes there, and the viewer never disconnects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FakeHypervisor } from '../testing/fake-hypervisor.ts';
import { SECRETS, autoAck, once, startHarness, until, type Harness } from '../testing/helpers.ts';

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
  const seen = frames.frames;
  viewer.emit('input:key', { code: 'KeyM', down: true });
  await until(() => target.keys.some((k) => k.id === 'vm-1' && k.code === 'KeyM'));
  await until(() => frames.frames > seen, 5000, 'the typed glyph painted from the target');
  assert.equal(
    h.hv.keys.some((k) => k.code === 'KeyM'),
    false,
    'input no longer goes to the source host',
  );
  assert.equal(viewer.connected, true);
  assert.equal((await h.gateway.directory.hostFor('vm-1')).id, 'host-b');
});

test('a malformed moved event is ignored', async () => {
  const viewer = h.client({ vm: 'vm-2' });
  await once(viewer, 'session:ready');
  h.hv.io.emit('domain:moved', { id: 'vm-2', hostId: 'x', url: 'not a url' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await h.gateway.directory.hostFor('vm-2')).id, 'local');
});
