// Viewer session caps at the handshake (per user and per VM) against a real gateway and the fake
// hypervisor: a clear refusal reason, a burst cannot slip past, a takeover at the cap works.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SessionReady } from '../src/protocol/browser.ts';
import { DEFAULT_SESSION_LIMITS } from '../src/sessions/admission.ts';
import { once, startHarness, until, type Harness, type ViewerClient } from '../testing/helpers.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => h.close());

/** Resolves with 'ready' or the connect_error message. */
async function outcome(c: ViewerClient): Promise<string> {
  return Promise.race([
    once<SessionReady>(c, 'session:ready', 15_000).then(() => 'ready'),
    once<Error>(c, 'connect_error', 15_000).then((e) => e.message),
  ]);
}

test('a burst of 25 viewers of one VM: the cap holds, the rest get too_many_sessions_vm', async () => {
  const clients = Array.from({ length: 25 }, (_, i) =>
    h.client({ sub: `user-${i}`, vm: 'vm-1', mode: 'view', name: `Viewer ${i}` }),
  );
  const results = await Promise.all(clients.map(outcome));
  const ready = results.filter((r) => r === 'ready').length;
  // View sessions get all places but the controller's.
  assert.equal(ready, DEFAULT_SESSION_LIMITS.maxPerVm - 1);
  assert.deepEqual([...new Set(results.filter((r) => r !== 'ready'))], ['too_many_sessions_vm']);
  assert.ok(h.gateway.sessions.forVm('vm-1').length <= DEFAULT_SESSION_LIMITS.maxPerVm);
  for (const c of clients) c.disconnect();
  await until(() => h.gateway.sessions.forVm('vm-1').length === 0, 5000, 'sessions closed');
});

test('one user: the ninth viewer over two VMs gets too_many_sessions_user; closing one frees a place', async () => {
  const mine: ViewerClient[] = [];
  for (let i = 0; i < DEFAULT_SESSION_LIMITS.maxPerUser; i++) {
    const c = h.client({ sub: 'greedy', vm: i % 2 ? 'vm-2' : 'vm-1', mode: 'view' });
    assert.equal(await outcome(c), 'ready');
    mine.push(c);
  }
  const extra = h.client({ sub: 'greedy', vm: 'vm-1', mode: 'view' });
  assert.equal(await outcome(extra), 'too_many_sessions_user');
  const other = h.client({ sub: 'someone-else', vm: 'vm-1', mode: 'view' });
  assert.equal(await outcome(other), 'ready', 'other users are not affected');
  other.disconnect();
  mine.pop()!.disconnect();
  await until(
    () => h.gateway.sessions.list().filter((s) => s.userId === 'greedy').length < 8,
    5000,
    'a session ended',
  );
  const again = h.client({ sub: 'greedy', vm: 'vm-1', mode: 'view' });
  assert.equal(await outcome(again), 'ready');
  for (const c of [...mine, again]) c.disconnect();
  await until(() => h.gateway.sessions.list().length === 0, 5000, 'sessions closed');
});

test("shadows cannot fill the controller's place: the owner attaches with the VM full of shadows", async () => {
  const shadows: ViewerClient[] = [];
  for (let i = 1; i < DEFAULT_SESSION_LIMITS.maxPerVm; i++) {
    const c = h.client({ sub: `admin-${i}`, vm: 'vm-1', mode: 'view', role: 'admin' });
    assert.equal(await outcome(c), 'ready');
    shadows.push(c);
  }
  const owner = h.client({ sub: 'owner', vm: 'vm-1', mode: 'control' });
  assert.equal(await outcome(owner), 'ready');
  for (const c of [...shadows, owner]) c.disconnect();
  await until(() => h.gateway.sessions.list().length === 0, 5000, 'sessions closed');
});

test('at the VM cap, the owner taking control from another computer still works', async () => {
  const control = h.client({ sub: 'owner', vm: 'vm-1', mode: 'control' });
  assert.equal(await outcome(control), 'ready');
  const shadows: ViewerClient[] = [];
  for (let i = 1; i < DEFAULT_SESSION_LIMITS.maxPerVm; i++) {
    const c = h.client({ sub: `admin-${i}`, vm: 'vm-1', mode: 'view', role: 'admin' });
    assert.equal(await outcome(c), 'ready');
    shadows.push(c);
  }
  const refused = h.client({ sub: 'admin-x', vm: 'vm-1', mode: 'view', role: 'admin' });
  assert.equal(await outcome(refused), 'too_many_sessions_vm');
  const moved = once<{ reason: string }>(control, 'session:moved');
  const takeover = h.client({ sub: 'owner', vm: 'vm-1', mode: 'control' });
  assert.equal(await outcome(takeover), 'ready');
  assert.equal((await moved).reason, 'opened-elsewhere');
  assert.equal(h.gateway.sessions.forVm('vm-1').length, DEFAULT_SESSION_LIMITS.maxPerVm);
  for (const c of [...shadows, takeover]) c.disconnect();
  await until(() => h.gateway.sessions.list().length === 0, 5000, 'sessions closed');
});
