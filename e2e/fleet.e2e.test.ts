/// <reference lib="dom" />
// A fleet with real processes, as `npm run fleet` runs it (scripts/lib/fleet-harness.ts): a real
// PostgreSQL and Redis started here, two hypervisor hosts, two gateways and the portal (the
// production build), each its own process under the supervisor, all FLEET=on on loopback.
// Browsers use the portal as another computer does (http://vdi.example.test:<port>, one
// origin; gateways only through its /gateway/<id>/socket.io).
//   - placement puts the personal desktops of two users on the two hosts;
//   - a second viewer of a VM, handed the other gateway, takes over the first (Redis adapter);
//   - an administrator disconnects a session held by the gateway the portal did not ask;
//   - kill -9 of the gateway a viewer watches through: it comes back through the other one;
//   - an administrator moves a desktop to the other host (Move to): its row follows;
//   - an administrator clones a running desktop: the copy is a VM row of its own;
//   - kill -9 of a host: the admin console shows it offline within 15 s.
// The killed parts are held down (long restart backoff) so the survivors are what is tested.
//   npm run build -w web && npx tsx --test e2e/fleet.e2e.test.ts
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  fleetHarnessMissing,
  pageApi,
  startFleetHarness,
  waitFor,
  type FleetHarness,
} from '../scripts/lib/fleet-harness.ts';

const ADMIN = { email: 'admin@fleet.test', password: 'fleet-admin-password' };
const USERS = [
  { email: 'ada@fleet.test', password: 'fleet-user-password-1' },
  { email: 'grace@fleet.test', password: 'fleet-user-password-2' },
];
/** Parts the test kills stay down this long (the supervisor would restart them at once). */
const HELD_DOWN = { initialDelayMs: 600_000, maxDelayMs: 600_000, jitter: 0 };

const missing = fleetHarnessMissing();
if (missing) throw new Error(missing);

describe('a fleet: two hosts, two gateways, one portal, PostgreSQL and Redis', () => {
  const figures: string[] = [];
  let fleet: FleetHarness;
  /** Portal VM ids of the users' desktops. */
  const desktops: string[] = [];
  let adminPage: Page;
  const signedIn = (user: { email: string; password: string }) => fleet.signedIn(user);

  before(async () => {
    fleet = await startFleetHarness({
      label: 'fleet-e2e',
      admin: ADMIN,
      users: USERS,
      restart: (part) => (part === 'gw-1' || part === 'host-2' ? HELD_DOWN : undefined),
      output: (name, line) => {
        if (process.env.E2E_VERBOSE) console.log(`# ${name}| ${line}`);
      },
      log: (line) => console.log(`# supervisor| ${line}`),
    });
    figures.push(`fleet up (services, migrations, 5 parts): ${fleet.startedInMs} ms`);
    adminPage = await signedIn(ADMIN);
  });

  after(async () => {
    const stoppingAt = Date.now();
    if (process.env.E2E_VERBOSE && fleet)
      for (const part of fleet.parts)
        console.log(`# ${part}:\n${fleet.logs(part).slice(-80).join('\n')}`);
    await fleet?.stop();
    figures.push(`fleet stopped (desktops saved): ${Date.now() - stoppingAt} ms`);
    console.log(
      `# fleet figures (load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}):`,
    );
    for (const line of figures) console.log(`#   ${line}`);
  });

  /** Opens the desktop in a page; resolves with the gateway its viewer socket went through. */
  async function watch(page: Page, vmId: string): Promise<string> {
    const socketUrls: string[] = [];
    page.on('websocket', (ws) => socketUrls.push(ws.url()));
    await page.goto(`/desktop/${vmId}`);
    await connected(page, 'the viewer connected');
    return gatewayOf(socketUrls.at(-1) ?? '');
  }

  const gatewayOf = (url: string) =>
    /\/gateway\/([A-Za-z0-9_-]+)\/socket\.io\//.exec(url)?.[1] ?? '';
  const viewerState = (page: Page) => page.locator('.rd-root').getAttribute('data-state');
  const connected = (page: Page, what: string, timeoutMs = 60_000) =>
    waitFor(what, async () => (await viewerState(page)) === 'connected', timeoutMs);

  const gatewaySessions = async (id: string) =>
    (await fleet.db.gatewayNode.findUnique({ where: { id } }))?.sessions ?? -1;

  test('placement puts the desktops of two users on the two hosts', async () => {
    for (const user of USERS) {
      const page = await signedIn(user);
      const opened = await pageApi<{ vm: { id: string } }>(page, '/api/desktop/open', 'POST');
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      desktops.push(opened.body.vm.id);
      const row = await fleet.db.vm.findUniqueOrThrow({ where: { id: opened.body.vm.id } });
      // The next placement sees this VM in its host's heartbeat.
      await waitFor(
        'the host to report the new VM',
        async () =>
          ((await fleet.db.hypervisorHost.findUnique({ where: { id: row.hostId ?? '' } }))
            ?.running ?? 0) >= 1,
        15_000,
      );
    }
    const hosts = await fleet.db.vm.findMany({
      where: { id: { in: desktops } },
      select: { hostId: true },
    });
    assert.deepEqual(hosts.map((h) => h.hostId).sort(), ['host-1', 'host-2']);
  });

  test('a second viewer, handed the other gateway, takes over; an admin disconnect crosses gateways', async () => {
    const vmId = desktops[0]!;
    const first = await signedIn(USERS[0]!);
    const firstGateway = await watch(first, vmId);
    assert.equal(firstGateway, 'gw-1', 'the least loaded gateway (a tie goes to the first id)');
    await waitFor(
      'gw-1 to report its session',
      async () => (await gatewaySessions('gw-1')) === 1,
      15_000,
    );

    const second = await signedIn(USERS[0]!);
    const secondGateway = await watch(second, vmId);
    assert.equal(secondGateway, 'gw-2');
    await waitFor(
      'the first viewer to be told the desktop opened elsewhere',
      async () => (await viewerState(first)) === 'moved-elsewhere',
      15_000,
    );

    // gw-1 holds nothing now and is the one the portal asks; gw-2 holds the session.
    await waitFor(
      'gw-1 to report no session',
      async () => (await gatewaySessions('gw-1')) === 0,
      15_000,
    );
    const listed = await waitFor(
      'the session in the admin list',
      async () => {
        const res = await pageApi<{ sessions?: { id: string; vmId: string | null }[] }>(
          adminPage,
          '/api/admin/sessions',
        );
        return res.body.sessions?.find((s) => s.vmId === vmId) ?? null;
      },
      15_000,
    );
    const disconnect = await pageApi(
      adminPage,
      `/api/admin/sessions/${listed.id}/disconnect`,
      'POST',
      {},
    );
    assert.equal(disconnect.status, 200, JSON.stringify(disconnect.body));
    await waitFor(
      'the second viewer to be disconnected by the administrator',
      async () => (await viewerState(second)) === 'disconnected',
      15_000,
    );
    const text = await second.locator('.rd-overlay').textContent();
    assert.match(text ?? '', /administrator/i);
    await first.close();
    await second.close();
  });

  test('kill -9 of the gateway a viewer watches through: it comes back through the other', async () => {
    const vmId = desktops[0]!;
    await waitFor(
      'both gateways idle',
      async () => (await gatewaySessions('gw-1')) === 0 && (await gatewaySessions('gw-2')) === 0,
      15_000,
    );
    const page = await signedIn(USERS[0]!);
    const socketUrls: string[] = [];
    page.on('websocket', (ws) => socketUrls.push(ws.url()));
    await page.goto(`/desktop/${vmId}`);
    await connected(page, 'the viewer connected');
    assert.equal(gatewayOf(socketUrls.at(-1)!), 'gw-1');
    await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
    const pid = fleet.group.pid('gw-1');
    assert.ok(pid, 'gw-1 runs');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'the viewer to notice',
      async () => (await viewerState(page)) !== 'connected',
      20_000,
    );
    await connected(page, 'the viewer back through the other gateway', 60_000);
    figures.push(`gateway failover (kill -9 to connected again): ${Date.now() - killedAt} ms`);
    assert.equal(gatewayOf(socketUrls.at(-1)!), 'gw-2');
    // The same page: no reload.
    assert.equal(
      await page.evaluate(() => (window as unknown as { __marker?: number }).__marker),
      42,
    );
    await page.close();
  });

  test('an administrator moves a desktop to the other host: its row follows', async () => {
    const rows = await fleet.db.vm.findMany({ where: { id: { in: desktops } } });
    const vm = rows.find((r) => r.hostId === 'host-2');
    assert.ok(vm, 'a desktop lives on host-2');
    const moved = await pageApi<{ hostId: string }>(
      adminPage,
      `/api/admin/vms/${vm.id}/move`,
      'POST',
      { hostId: 'host-1' },
    );
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.hostId, 'host-1');
    const row = await fleet.db.vm.findUniqueOrThrow({ where: { id: vm.id } });
    assert.equal(row.hostId, 'host-1');
    const audited = await fleet.db.auditEvent.findFirst({
      where: { action: 'vm.move', targetId: vm.id },
    });
    assert.ok(audited, 'the move is in the audit log');
    const again = await pageApi(adminPage, `/api/admin/vms/${vm.id}/move`, 'POST', {
      hostId: 'host-1',
    });
    assert.equal(again.status, 400, 'moving to the host it is on is refused');
  });

  test('an administrator clones a running desktop: the copy gets its own VM row', async () => {
    const source = await fleet.db.vm.findFirstOrThrow({
      where: { id: { in: desktops }, hostId: 'host-1', state: 'running' },
    });
    const cloned = await pageApi<{
      clones: { vmId?: string; email: string | null; error?: string }[];
    }>(adminPage, `/api/admin/vms/${source.id}/clone`, 'POST', { count: 1, hostId: 'host-1' });
    assert.equal(cloned.status, 200, JSON.stringify(cloned.body));
    const vmId = cloned.body.clones[0]?.vmId;
    assert.ok(vmId, JSON.stringify(cloned.body));
    const copy = await fleet.db.vm.findUniqueOrThrow({
      where: { id: vmId },
      include: { owner: true },
    });
    assert.equal(copy.owner.email, ADMIN.email);
    assert.equal(copy.hostId, 'host-1');
    assert.notEqual(copy.domainId, source.domainId);
    assert.equal(copy.state, 'running');
    const refused = await pageApi<{ clones: { vmId?: string; error?: string }[] }>(
      adminPage,
      `/api/admin/vms/${source.id}/clone`,
      'POST',
      { emails: [USERS[0]!.email] },
    );
    assert.equal(refused.body.clones[0]?.vmId, undefined);
    assert.match(refused.body.clones[0]?.error ?? '', /owns the desktop being copied/);
  });

  test('kill -9 of a host: the admin console shows it offline within 15 s', async () => {
    const pid = fleet.group.pid('host-2');
    assert.ok(pid, 'host-2 runs');
    const status = async (id: string) => {
      const res = await pageApi<{ hosts: { id: string; status: string }[] }>(
        adminPage,
        '/api/admin/hosts',
      );
      return res.body.hosts.find((h) => h.id === id)?.status;
    };
    assert.equal(await status('host-2'), 'online');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('host-2 offline', async () => (await status('host-2')) === 'offline', 20_000);
    const offlineMs = Date.now() - killedAt;
    figures.push(`host offline after kill -9: ${offlineMs} ms (heartbeat 1 s)`);
    assert.ok(offlineMs <= 15_000, `offline after ${offlineMs} ms`);
    assert.equal(await status('host-1'), 'online');
  });
});
