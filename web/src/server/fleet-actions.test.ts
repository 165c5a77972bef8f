// "Move to…" and "Clone…" against a real SQLite registry: every refusal the portal decides by
// itself (wrong host, offline, draining, user already served) and the bodies it accepts. The
// relocation and the copies themselves run on real hosts in e2e/fleet.e2e.test.ts.
process.env.FLEET = 'on';

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshSqlite } from './test-db.ts';
import { cloneVm, moveVm } from './fleet-actions.ts';
import { HOST_OFFLINE_AFTER_MS, closeHostClients } from './fleet.ts';
import { HttpError } from './http.ts';
import { vmCloneSchema, vmMoveSchema } from '../lib/validation.ts';

let t: Awaited<ReturnType<typeof freshSqlite>>;
const actor = { id: '', email: 'admin@raydesk.test', address: '127.0.0.2' };

before(async () => {
  t = await freshSqlite();
});
after(async () => {
  closeHostClients();
  await t.cleanup();
});

beforeEach(async () => {
  await t.db.auditEvent.deleteMany();
  await t.db.vm.deleteMany();
  await t.db.hypervisorHost.deleteMany();
  await t.db.user.deleteMany();
  await t.db.appliance.deleteMany();
  const admin = await t.db.user.create({
    data: { email: actor.email, name: 'Admin', passwordHash: 'x', role: 'admin' },
  });
  actor.id = admin.id;
});

/** A registered host; `heartbeatAgoMs` past the limit makes it offline. Its URL answers nothing. */
async function host(id: string, fields: { draining?: boolean; heartbeatAgoMs?: number } = {}) {
  return t.db.hypervisorHost.create({
    data: {
      id,
      name: id,
      url: 'http://127.0.0.1:1',
      memoryBudgetMiB: 4096,
      draining: fields.draining ?? false,
      lastHeartbeatAt: new Date(Date.now() - (fields.heartbeatAgoMs ?? 500)),
    },
  });
}

async function desktopOf(email: string, hostId: string, state = 'running') {
  const user =
    (await t.db.user.findUnique({ where: { email } })) ??
    (await t.db.user.create({ data: { email, name: email, passwordHash: 'x' } }));
  const appliance = await t.db.appliance.upsert({
    where: { name: 'desktop' },
    create: { name: 'desktop', title: 'Desktop', memoryMiB: 256 },
    update: {},
  });
  return t.db.vm.create({
    data: {
      ownerId: user.id,
      kind: 'personal',
      applianceId: appliance.id,
      hostId,
      domainId: `d${Math.random().toString(36).slice(2, 10)}`,
      state,
      memoryMiB: 256,
    },
  });
}

async function rejects(promise: Promise<unknown>, status: number, code: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status);
    return true;
  });
}

test('a move needs another host that is registered, live and not draining', async () => {
  await host('host-1');
  await host('host-2', { draining: true });
  await host('host-3', { heartbeatAgoMs: HOST_OFFLINE_AFTER_MS + 5_000 });
  const vm = await desktopOf('ada@raydesk.test', 'host-1');
  await rejects(moveVm(t.db, vm, 'host-1', actor), 400, 'same_host');
  await rejects(moveVm(t.db, vm, 'host-9', actor), 404, 'no_such_host');
  await rejects(moveVm(t.db, vm, 'host-2', actor), 409, 'host_draining');
  await rejects(moveVm(t.db, vm, 'host-3', actor), 503, 'host_offline');
  const row = await t.db.vm.findUniqueOrThrow({ where: { id: vm.id } });
  assert.equal(row.hostId, 'host-1', 'a refused move leaves the VM where it was');
  assert.equal(await t.db.auditEvent.count({ where: { action: 'vm.move' } }), 0);
});

test('a move from a host that does not answer is a 503 and changes nothing', async () => {
  await host('host-1');
  await host('host-2');
  const vm = await desktopOf('ada@raydesk.test', 'host-1');
  // host-1 is registered as live but nothing listens at its URL.
  await rejects(moveVm(t.db, vm, 'host-2', actor), 503, 'hypervisor_unavailable');
  const row = await t.db.vm.findUniqueOrThrow({ where: { id: vm.id } });
  assert.equal(row.hostId, 'host-1');
});

test('a VM not yet created on a host can be neither moved nor cloned', async () => {
  await host('host-1');
  await host('host-2');
  const vm = await t.db.vm.update({
    where: { id: (await desktopOf('ada@raydesk.test', 'host-1')).id },
    data: { domainId: null, state: 'creating' },
  });
  await rejects(moveVm(t.db, vm, 'host-2', actor), 409, 'not_ready');
  await rejects(cloneVm(t.db, vm, { count: 1 }, actor), 409, 'not_ready');
});

test('only a running VM is cloned', async () => {
  await host('host-1');
  const vm = await desktopOf('ada@raydesk.test', 'host-1', 'saved');
  await rejects(cloneVm(t.db, vm, { count: 2 }, actor), 409, 'not_running');
});

test('each listed user gets a copy only if known and without a personal desktop', async () => {
  await host('host-1');
  const source = await desktopOf('teacher@raydesk.test', 'host-1');
  await desktopOf('grace@raydesk.test', 'host-1');
  const results = await cloneVm(
    t.db,
    source,
    { emails: ['nobody@raydesk.test', 'grace@raydesk.test'] },
    actor,
  );
  assert.deepEqual(
    results.map((r) => [r.email, r.vmId]),
    [
      ['nobody@raydesk.test', undefined],
      ['grace@raydesk.test', undefined],
    ],
  );
  assert.match(results[0]!.error ?? '', /no user nobody@raydesk\.test/);
  assert.match(results[1]!.error ?? '', /already has a personal desktop/);
  assert.equal(await t.db.vm.count(), 2, 'no VM row for a refused user');
});

test('a group must exist and have members; the copied desktop is never replaced', async () => {
  await host('host-1');
  const source = await desktopOf('teacher@raydesk.test', 'host-1');
  await rejects(cloneVm(t.db, source, { group: 'nobody' }, actor), 404, 'no_such_group');
  await t.db.group.create({ data: { name: 'empty' } });
  await rejects(cloneVm(t.db, source, { group: 'empty' }, actor), 409, 'empty_group');
  const teacher = await t.db.user.findUniqueOrThrow({ where: { email: 'teacher@raydesk.test' } });
  await t.db.group.create({
    data: { name: 'staff', members: { create: [{ userId: teacher.id }] } },
  });
  const [result] = await cloneVm(t.db, source, { group: 'staff', replace: true }, actor);
  assert.match(result!.error ?? '', /owns the desktop being copied/);
  assert.equal(await t.db.vm.count(), 1, 'nothing copied, nothing destroyed');
  await t.db.group.deleteMany();
});

test('copies go only to a live host that takes VMs, and need one to exist', async () => {
  await host('host-1');
  await host('host-2', { draining: true });
  const vm = await desktopOf('ada@raydesk.test', 'host-1');
  await rejects(cloneVm(t.db, vm, { count: 1, hostId: 'host-2' }, actor), 409, 'host_draining');
  await t.db.hypervisorHost.update({
    where: { id: 'host-1' },
    data: { lastHeartbeatAt: new Date(Date.now() - HOST_OFFLINE_AFTER_MS - 5_000) },
  });
  // Placement: host-1 is offline and host-2 drains.
  await rejects(cloneVm(t.db, vm, { count: 1 }, actor), 503, 'host_full');
});

test('the bodies: a host id for a move; a count, a list of emails or a group for copies', () => {
  assert.equal(vmMoveSchema.safeParse({ hostId: 'host-2' }).success, true);
  assert.equal(vmMoveSchema.safeParse({ hostId: '../etc' }).success, false);
  assert.equal(vmMoveSchema.safeParse({}).success, false);
  assert.deepEqual(vmCloneSchema.parse({ emails: [' Ada@Raydesk.test '] }), {
    emails: ['ada@raydesk.test'],
  });
  assert.equal(vmCloneSchema.safeParse({ count: 3, hostId: 'host-1' }).success, true);
  assert.deepEqual(vmCloneSchema.parse({ group: ' course ', replace: true }), {
    group: 'course',
    replace: true,
  });
  for (const bad of [
    {},
    { count: 2, emails: ['a@raydesk.test'] },
    { count: 0 },
    { count: 17 },
    { emails: [] },
    { emails: ['a@raydesk.test', 'A@raydesk.test'] },
    { emails: ['not-an-email'] },
    { group: '' },
    { group: 'course', count: 1 },
    { group: 'course', emails: ['a@raydesk.test'] },
    { group: 'course', replace: 'yes' },
  ]) {
    assert.equal(vmCloneSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});
