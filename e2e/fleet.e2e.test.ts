/// <reference lib="dom" />
// A fleet with real processes, as `npm run fleet` runs it (scripts/lib/fleet.ts): a real
// PostgreSQL and Redis started here, two hypervisor hosts, two gateways and the portal (the
// production build), each its own process under the supervisor, all FLEET=on on loopback.
// Browsers use the portal as another computer does (http://vdi.example.test:<port>, one
// origin; gateways only through its /gateway/<id>/socket.io).
//   - placement puts the personal desktops of two users on the two hosts;
//   - a second viewer of a VM, handed the other gateway, takes over the first (Redis adapter);
//   - an administrator disconnects a session held by the gateway the portal did not ask;
//   - kill -9 of the gateway a viewer watches through: it comes back through the other one;
//   - kill -9 of a host: the admin console shows it offline within 15 s.
// The killed parts are held down (long restart backoff) so the survivors are what is tested.
//   npm run build -w web && npx tsx --test e2e/fleet.e2e.test.ts
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createDb, type Db } from '@raydesk/db';
import { freePort } from '@raydesk/db/cluster';
import {
  hashPassword,
  PORTAL_BUILD_ID,
  PORTAL_HOST_NAME,
  PORTAL_HOST_RESOLVER_RULE,
  setupDatabase,
} from '@raydesk/web/testing';
import { fleetParts, type FleetLayout } from '../scripts/lib/fleet.ts';
import { startFleetServices, type FleetServices } from '../scripts/lib/fleet-services.ts';
import { ProcessGroup } from '../scripts/lib/processes.ts';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { email: 'admin@fleet.test', password: 'fleet-admin-password' };
const USERS = [
  { email: 'ada@fleet.test', password: 'fleet-user-password-1' },
  { email: 'grace@fleet.test', password: 'fleet-user-password-2' },
];
/** Parts the test kills stay down this long (the supervisor would restart them at once). */
const HELD_DOWN = { initialDelayMs: 600_000, maxDelayMs: 600_000, jitter: 0 };

if (!existsSync(CHROMIUM))
  throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`);
if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (error) {
      lastError = error;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Same-origin API call from inside the page (its cookies and Origin). */
async function pageApi<T = Record<string, unknown>>(
  page: Page,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return page.evaluate(
    async ({ path, method, body }) => {
      const res = await fetch(path, {
        method,
        headers: body !== undefined ? { 'content-type': 'application/json' } : undefined,
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let parsed: unknown = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { text: text.slice(0, 200) };
      }
      return { status: res.status, body: parsed as T };
    },
    { path, method, body },
  );
}

describe('a fleet: two hosts, two gateways, one portal, PostgreSQL and Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-fleet-e2e-'));
  const partLogs = new Map<string, string[]>();
  const group = new ProcessGroup({
    handleSignals: false,
    output: (name, line) => {
      const lines = partLogs.get(name) ?? [];
      lines.push(line);
      if (lines.length > 1000) lines.splice(0, lines.length - 1000);
      partLogs.set(name, lines);
      if (process.env.E2E_VERBOSE) console.log(`# ${name}| ${line}`);
    },
    log: (line) => console.log(`# supervisor| ${line}`),
  });
  const figures: string[] = [];
  let services: FleetServices;
  let db: Db;
  let browser: Browser;
  let portalUrl = '';
  const contexts: BrowserContext[] = [];
  /** Portal VM ids of the users' desktops. */
  const desktops: string[] = [];
  let adminPage: Page;

  before(async () => {
    const startedAt = Date.now();
    services = await startFleetServices({
      dir: join(dir, 'services'),
      postgresPort: await freePort(),
      redisPort: await freePort(),
      keep: false,
    });
    const layout: FleetLayout = {
      databaseUrl: services.databaseUrl,
      redisUrl: services.redisUrl,
      dataDir: join(dir, 'hosts'),
      hypervisorPorts: [await freePort(), await freePort()],
      gatewayPorts: [await freePort(), await freePort()],
      portalPort: await freePort(),
    };
    portalUrl = `http://${PORTAL_HOST_NAME}:${layout.portalPort}`;
    const stamp = Date.now();
    // Every setting explicit: the parts also read the repository's .env for anything unset.
    const env: NodeJS.ProcessEnv = {
      HYPERVISOR_SECRET: `fleet-hypervisor-${stamp}`,
      GATEWAY_SECRET: `fleet-gateway-secret-${stamp}`,
      ATTACH_TOKEN_SECRET: `fleet-attach-secret-0123456789abcdef-${stamp}`,
      SESSION_SECRET: `fleet-session-secret-${stamp}-0123456789abcdef`,
      HOST_MEMORY_BUDGET_MIB: '1024',
      STANDBY_APPLIANCES: '',
      IDLE_SUSPEND_SECONDS: '0',
      FLEET_HEARTBEAT_SECONDS: '1',
      GATEWAY_ALLOWED_ORIGINS: '',
      PORTAL_BIND: '',
      PORTAL_PUBLIC_URL: '',
      TRUST_PROXY: '',
      TLS_CERT_FILE: '',
      TLS_KEY_FILE: '',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      PORTAL_DESKTOP_APPLIANCE: 'console',
      LOG_LEVEL: 'info',
      DATABASE_URL: services.databaseUrl,
      FLEET: 'on',
    };
    await setupDatabase(env);
    db = createDb(services.databaseUrl);
    for (const user of USERS) {
      await db.user.create({
        data: {
          email: user.email,
          name: user.email.split('@')[0]!,
          role: 'user',
          passwordHash: await hashPassword(user.password),
        },
      });
    }
    const parts = fleetParts({ ...process.env, ...env }, layout).map((part) =>
      part.name === 'gw-1' || part.name === 'host-2' ? { ...part, restart: HELD_DOWN } : part,
    );
    for (const part of parts) group.start(part);
    let startTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(parts.map((part) => group.whenUp(part.name))),
      new Promise((_, reject) => {
        startTimer = setTimeout(
          () => reject(new Error('the fleet did not come up within 180 s')),
          180_000,
        );
      }),
    ]).finally(() => clearTimeout(startTimer));
    figures.push(`fleet up (services, migrations, 5 parts): ${Date.now() - startedAt} ms`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        PORTAL_HOST_RESOLVER_RULE,
      ],
    });
    adminPage = await signedIn(ADMIN);
  });

  after(async () => {
    const stoppingAt = Date.now();
    await browser?.close();
    await group.stop(0);
    await db?.$disconnect();
    await services?.stop();
    figures.push(`fleet stopped (desktops saved): ${Date.now() - stoppingAt} ms`);
    if (process.env.E2E_VERBOSE)
      for (const [n, l] of partLogs) console.log(`# ${n}:\n${l.slice(-80).join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `# fleet figures (load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}):`,
    );
    for (const line of figures) console.log(`#   ${line}`);
  });

  async function signedIn(user: { email: string; password: string }): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1024, height: 768 },
      baseURL: portalUrl,
    });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto('/login');
    const login = await pageApi(page, '/api/auth/login', 'POST', user);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    return page;
  }

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
    (await db.gatewayNode.findUnique({ where: { id } }))?.sessions ?? -1;

  test('placement puts the desktops of two users on the two hosts', async () => {
    for (const user of USERS) {
      const page = await signedIn(user);
      const opened = await pageApi<{ vm: { id: string } }>(page, '/api/desktop/open', 'POST');
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      desktops.push(opened.body.vm.id);
      const row = await db.vm.findUniqueOrThrow({ where: { id: opened.body.vm.id } });
      // The next placement sees this VM in its host's heartbeat.
      await waitFor(
        'the host to report the new VM',
        async () =>
          ((await db.hypervisorHost.findUnique({ where: { id: row.hostId ?? '' } }))?.running ??
            0) >= 1,
        15_000,
      );
    }
    const hosts = await db.vm.findMany({
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
    const pid = group.pid('gw-1');
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

  test('kill -9 of a host: the admin console shows it offline within 15 s', async () => {
    const pid = group.pid('host-2');
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
