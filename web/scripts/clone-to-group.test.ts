// `npm run vm -- clone <id> --group <name>` against a real hypervisor (console VMs, which boot in
// seconds and run the guest agent) and a real SQLite portal database: each member of the group
// gets a copy as their personal desktop with its own identity; a member who already has a
// desktop is refused with a clear message, unless --replace, which destroys it for the copy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@raydesk/common/node';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { freshSqlite } from '../src/server/test-db.ts';

let t: Awaited<ReturnType<typeof freshSqlite>>;
let hv: RunningHypervisor;

before(async () => {
  t = await freshSqlite();
  hv = await startEphemeralHypervisor({ standbyAppliances: [] });
});
after(async () => {
  await hv?.close();
  await t?.cleanup();
});

/** The CLI as an operator runs it (scripts/vm.ts routes `clone --group` to the portal's side). */
function vmCli(...args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'scripts/vm.ts'), ...args],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DATABASE_URL: t.url,
        FLEET: 'off',
        HYPERVISOR_HOST: '127.0.0.1',
        HYPERVISOR_PORT: String(hv.config.port),
        HYPERVISOR_SECRET: hv.config.secret,
      },
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out }));
  });
}

async function guestInfo(domainId: string): Promise<Record<string, string>> {
  const domain = hv.host.get(domainId);
  await domain.guestRefreshed;
  const payload = await domain.agentRequest('info', []);
  return Object.fromEntries(payload.split(' ').map((pair) => pair.split('=') as [string, string]));
}

async function desktopsOf(email: string) {
  return t.db.vm.findMany({
    where: { owner: { email }, kind: 'personal', state: { not: 'destroyed' } },
  });
}

test('each member of a group gets their own copy; one with a desktop only with --replace', async () => {
  const db = t.db;
  const admin = await db.user.create({
    data: { email: 'admin@raydesk.test', name: 'Admin', passwordHash: 'x', role: 'admin' },
  });
  const [ada, bob] = await Promise.all(
    ['ada', 'bob'].map((name) =>
      db.user.create({ data: { email: `${name}@raydesk.test`, name, passwordHash: 'x' } }),
    ),
  );
  await db.group.create({
    data: { name: 'course', members: { create: [{ userId: ada!.id }, { userId: bob!.id }] } },
  });
  const appliance = await db.appliance.create({
    data: { name: 'console', title: 'Console', memoryMiB: 96 },
  });
  const row = async (ownerId: string) => {
    const info = await hv.host.create({ appliance: 'console', kind: 'personal', owner: ownerId });
    return db.vm.create({
      data: {
        ownerId,
        kind: 'personal',
        applianceId: appliance.id,
        domainId: info.id,
        state: 'running',
        memoryMiB: 96,
      },
    });
  };
  // The desktop the administrator prepared, and one Bob already has.
  const prepared = await row(admin.id);
  const bobsOwn = await row(bob!.id);
  const source = await guestInfo(prepared.domainId!);

  const first = await vmCli('clone', prepared.domainId!, '--group', 'course');
  assert.equal(first.status, 1, first.out);
  assert.match(first.out, /bob@raydesk\.test: not copied: .*already has a personal desktop/);
  const adaFirst = await desktopsOf('ada@raydesk.test');
  assert.equal(adaFirst.length, 1, first.out);
  assert.equal(hv.host.get(adaFirst[0]!.domainId!).state, 'running');
  assert.deepEqual(
    (await desktopsOf('bob@raydesk.test')).map((vm) => vm.id),
    [bobsOwn.id],
    "Bob's desktop is left as it was",
  );

  const second = await vmCli('clone', prepared.domainId!, '--group', 'course', '--replace');
  assert.equal(second.status, 0, second.out);
  const desktops = [
    ...(await desktopsOf('ada@raydesk.test')),
    ...(await desktopsOf('bob@raydesk.test')),
  ];
  assert.equal(desktops.length, 2, 'one desktop each');
  assert.ok(!desktops.some((vm) => vm.id === bobsOwn.id || vm.id === adaFirst[0]!.id));
  for (const replaced of [bobsOwn, adaFirst[0]!]) {
    const old = await db.vm.findUniqueOrThrow({ where: { id: replaced.id } });
    assert.equal(old.state, 'destroyed');
    const domains = hv.host.list().filter((d) => d.id === replaced.domainId);
    assert.ok(
      domains.every((d) => d.state === 'stopped'),
      'its VM is gone from the host',
    );
  }
  const infos = await Promise.all(desktops.map((vm) => guestInfo(vm.domainId!)));
  const machineIds = new Set([source.machine_id, ...infos.map((i) => i.machine_id)]);
  assert.equal(machineIds.size, 3, 'each copy has its own machine-id');
  assert.equal(new Set([source.hostname, ...infos.map((i) => i.hostname)]).size, 3);
  for (const info of infos) {
    const skew = Math.abs(Number(info.time) - Date.now() / 1000);
    assert.ok(skew < 30, `the copy's clock is current (off by ${skew.toFixed(1)} s)`);
  }
  const disks = await Promise.all(desktops.map((vm) => hv.host.diskInfo(vm.domainId!)));
  assert.ok(disks.every((d) => d.kind === 'durable' && d.path !== null));
  assert.equal(new Set(disks.map((d) => d.path)).size, 2, 'each copy has its own disk');
  const audits = await db.auditEvent.findMany({ where: { action: 'vm.clone' } });
  assert.equal(audits.length, 3);
});
