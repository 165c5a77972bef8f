// One gateway, two hypervisor hosts: the attach token names the VM's host and the gateway's pool
// connects there; a token naming no host keeps using the gateway's own hypervisor.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeHypervisor } from '../testing/fake-hypervisor.ts';
import { SECRETS, once, startHarness, until, type Harness } from '../testing/helpers.ts';
import { HypervisorPool, UnknownHostError } from '../src/hypervisors/pool.ts';
import { verifyAttachToken } from '../src/auth/attach-token.ts';

let h: Harness;
let second: FakeHypervisor;
let secondUrl: string;
before(async () => {
  h = await startHarness();
  second = new FakeHypervisor(SECRETS.hypervisor, 30);
  secondUrl = await second.listen();
  second.addVm('vm-far');
});
after(async () => {
  await h.close();
  await second.close();
});

test('a token naming another host streams from that host and sends input there', async () => {
  const grant = { vm: 'vm-far', host: { id: 'host-b', url: secondUrl } };
  const claims = await verifyAttachToken(SECRETS.attach, await h.token(grant));
  assert.deepEqual(claims.host, grant.host);
  const viewer = h.client(grant);
  await once(viewer, 'session:ready');
  viewer.emit('input:key', { code: 'KeyQ', down: true });
  await until(() => second.keys.some((k) => k.id === 'vm-far' && k.code === 'KeyQ'));
  assert.equal(
    h.hv.keys.some((k) => k.id === 'vm-far'),
    false,
  );
  assert.deepEqual(
    h.gateway.directory
      .hosts()
      .map((host) => host.id)
      .sort(),
    ['host-b', 'local'],
  );
});

test('a token without a host uses the gateway’s own hypervisor', async () => {
  const viewer = h.client({ vm: 'vm-2' });
  await once(viewer, 'session:ready');
  assert.equal((await h.gateway.directory.hostFor('vm-2')).id, 'local');
});

test('a pool without a default host refuses VMs nobody placed, and reconnects a moved host', async () => {
  const pool = new HypervisorPool({ secret: SECRETS.hypervisor, defaultHost: null });
  try {
    await assert.rejects(pool.hostFor('vm-x'), UnknownHostError);
    const first = pool.place('vm-x', { id: 'h1', url: secondUrl });
    assert.equal(await pool.hostFor('vm-x'), first);
    assert.equal(pool.connect({ id: 'h1', url: secondUrl }), first);
    const moved = pool.connect({
      id: 'h1',
      url: h.hv ? secondUrl.replace('127.0.0.1', 'localhost') : secondUrl,
    });
    assert.notEqual(moved, first);
    assert.equal(pool.hosts().length, 1);
  } finally {
    pool.close();
  }
});
