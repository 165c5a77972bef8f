// A fleet host registers in PostgreSQL and heartbeats: a real cluster (Debian's postgresql),
// migrations deployed, a real hypervisor with FLEET settings. Its row carries the control URL,
// memory and counts, and is refreshed; a clean stop marks it offline. Without fleet settings
// the host writes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDb, type Db } from '@raydesk/db';
import { deployMigrations } from '@raydesk/db/setup';
import { startTestPostgres, type TestPostgres } from '@raydesk/db/testing';
import { startEphemeralHypervisor } from '../src/host/index.ts';

let pg: TestPostgres;
let db: Db;
before(async () => {
  pg = await startTestPostgres();
  deployMigrations(pg.url);
  db = createDb(pg.url);
});
after(async () => {
  await db.$disconnect();
  await pg.stop();
});

test('a fleet host registers, heartbeats and is marked offline when it stops', async () => {
  const hv = await startEphemeralHypervisor({
    hostId: 'host-hb',
    standbyAppliances: [],
    fleet: { databaseUrl: pg.url, publicUrl: null, heartbeatMs: 500 },
  });
  let stopped = false;
  try {
    const first = await db.hypervisorHost.findUniqueOrThrow({ where: { id: 'host-hb' } });
    assert.equal(first.url, hv.url);
    assert.equal(first.status, 'online');
    assert.equal(first.memoryBudgetMiB, hv.config.memoryBudgetMiB);
    assert.equal(first.domains, 0);
    assert.equal(first.draining, false);
    let later = first;
    for (let i = 0; i < 50 && later.lastHeartbeatAt! <= first.lastHeartbeatAt!; i++) {
      await new Promise((r) => setTimeout(r, 100));
      later = await db.hypervisorHost.findUniqueOrThrow({ where: { id: 'host-hb' } });
    }
    assert.ok(later.lastHeartbeatAt! > first.lastHeartbeatAt!, 'heartbeat refreshed');
    await hv.close();
    stopped = true;
    const gone = await db.hypervisorHost.findUniqueOrThrow({ where: { id: 'host-hb' } });
    assert.equal(gone.status, 'offline');
  } finally {
    if (!stopped) await hv.close();
  }
});

test('without fleet settings a host writes no registry row', async () => {
  const hv = await startEphemeralHypervisor({ hostId: 'host-embedded', standbyAppliances: [] });
  await hv.close();
  assert.equal(await db.hypervisorHost.count({ where: { id: 'host-embedded' } }), 0);
});

test('a heartbeat points the Vm rows of the domains a host holds at that host', async () => {
  const hv = await startEphemeralHypervisor({
    hostId: 'host-claim',
    standbyAppliances: [],
    fleet: { databaseUrl: pg.url, publicUrl: null, heartbeatMs: 300 },
  });
  try {
    // A row left naming another host, as a move whose caller failed after the commit leaves it.
    await db.hypervisorHost.create({
      data: { id: 'host-old', name: 'host-old', url: 'http://127.0.0.1:1' },
    });
    const owner = await db.user.create({
      data: { email: 'claim@raydesk.test', name: 'Claim', passwordHash: 'x' },
    });
    const appliance = await db.appliance.create({
      data: { name: 'console-claim', title: 'Console', memoryMiB: 64 },
    });
    const info = await hv.host.create({ appliance: 'console', kind: 'personal', owner: 'claim' });
    const row = (domainId: string) => ({
      ownerId: owner.id,
      kind: 'personal',
      applianceId: appliance.id,
      hostId: 'host-old',
      domainId,
      state: 'running',
      memoryMiB: 64,
    });
    const here = await db.vm.create({ data: row(info.id) });
    const elsewhere = await db.vm.create({ data: row('vm-not-here') });
    let hostId: string | null = 'host-old';
    for (let i = 0; i < 50 && hostId === 'host-old'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      hostId = (await db.vm.findUniqueOrThrow({ where: { id: here.id } })).hostId;
    }
    assert.equal(hostId, 'host-claim', 'the row of the domain it holds names the host');
    const other = await db.vm.findUniqueOrThrow({ where: { id: elsewhere.id } });
    assert.equal(other.hostId, 'host-old', 'a row of a domain it does not hold is left alone');
  } finally {
    await hv.close();
  }
});
