/// <reference lib="dom" />
// End-to-end tests of the portal in real Chromium (Debian's /usr/bin/chromium through
// playwright-core; no browser is ever downloaded).
//
// The test starts the whole stack on free loopback ports: a real hypervisor and the gateway in
// this process, and the portal (web/server.mjs over the production build in web/.next) as a
// child with a throwaway SQLite database (scripts/lib/portal-server.ts, shared with the
// benchmark), so it never touches ./data or a running Raydesk.
//
// Chromium sees it as another computer would: the portal listens on every address and is
// opened as http://vdi.example.test:<port>, a name Chromium maps to 127.0.0.2; the gateway and
// the hypervisor listen on 127.0.0.1 only, out of the browser's reach, so the viewer gets the
// gateway through the portal's own origin. Every page of every test is watched: a navigation
// or a redirect that leaves that name, or a Content-Security-Policy violation, fails the test.
//
//   npx tsx --test e2e/portal.e2e.test.ts        (after `npm run build -w web`; npm test does both)
//
// Screenshots of every page go to artifacts/screenshots/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import type { Db } from '@raydesk/db';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import { dataDir } from '@raydesk/db/url';
import {
  freePort,
  PORTAL_BUILD_ID,
  PORTAL_HOST_ADDRESS,
  PORTAL_HOST_NAME,
  PORTAL_HOST_RESOLVER_RULE,
  startPortalServer,
  type PortalServer,
  GATEWAY_SOCKET_PATH,
  hashPassword,
} from '@raydesk/web/testing';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@e2e.test', password: 'admin-password-e2e' };
const ALICE = { email: 'alice@e2e.test', password: 'alice-password-e2e', name: 'Alice Example' };
const BOB = { email: 'bob@e2e.test', password: 'bob-password-e2e', name: 'Bob Example' };
const CAROL = { email: 'carol@e2e.test', password: 'carol-password-e2e', name: 'Carol Lockout' };

if (!existsSync(CHROMIUM))
  throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`);
if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

let hypervisor: RunningHypervisor | null = null;
let gateway: Gateway | null = null;

let portal: PortalServer | null = null;
let base = '';
let db: Db;
let browser: Browser;
let health: { hypervisor: { ok: boolean }; gateway: { ok: boolean } } = {
  hypervisor: { ok: false },
  gateway: { ok: false },
};

/** What the page watchers saw go wrong in the current test (checked after each test). */
const problems: string[] = [];

/** Fails the test if anything on `page` leaves the portal's host name. */
function watchPage(page: Page): void {
  const origin = new URL(base).origin;
  page.on('framenavigated', (frame) => {
    const url = frame.url();
    if (url !== 'about:blank' && new URL(url).origin !== origin)
      problems.push(`navigated to ${url} (not ${origin})`);
  });
  page.on('response', (response) => {
    const location = response.headers()['location'];
    if (location === undefined) return;
    if (location.startsWith('//') || new URL(location, response.url()).origin !== origin)
      problems.push(`${response.url()} redirected off ${origin}: ${location}`);
  });
  page.on('websocket', (socket) => {
    const url = new URL(socket.url());
    if (url.host !== new URL(base).host || url.pathname !== `${GATEWAY_SOCKET_PATH}/`)
      problems.push(`WebSocket to ${socket.url()} (not the portal's gateway path)`);
  });
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) =>
    problems.push(`uncaught error on ${page.url()}: ${error.message}`),
  );
  // A page's own assets must all load (an API answering 4xx/5xx is handled by the page).
  page.on('response', (response) => {
    const kind = response.request().resourceType();
    const api = new URL(response.url()).pathname.startsWith('/api/');
    if (
      response.status() >= 400 &&
      !api &&
      ['script', 'stylesheet', 'image', 'font'].includes(kind)
    )
      problems.push(`${kind} ${response.url()} answered ${response.status()}`);
  });
}

async function newContext(): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 }, baseURL: base });
  await ctx.exposeBinding('__reportCspViolation', ({ page }, text: string) =>
    problems.push(`CSP violation on ${page.url()}: ${text}`),
  );
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { __reportCspViolation(text: string): void })
        .__reportCspViolation;
      report(
        `${event.effectiveDirective} blocked ${event.blockedURI || 'inline'} (${event.sample}) ` +
          `at ${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      );
    });
  });
  ctx.on('page', watchPage);
  return ctx;
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

async function signIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', { timeout: 20_000 });
}

/** Same-origin API call from inside the page (carries its cookies and Origin). */
async function pageApi(
  page: Page,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return page.evaluate(
    async ({ path, method, body }) => {
      const res = await fetch(path, {
        method,
        headers: body !== undefined ? { 'content-type': 'application/json' } : undefined,
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { text: text.slice(0, 200) };
      }
      return { status: res.status, body: parsed };
    },
    { path, method, body },
  );
}

/** Distinct colours among sampled canvas pixels: a painted desktop has many, a blank one few. */
async function canvasColours(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector(
      'canvas[aria-label="Remote desktop"]',
    ) as HTMLCanvasElement | null;
    if (!canvas || canvas.width < 16 || canvas.height < 16) return 0;
    const ctx = canvas.getContext('2d');
    if (!ctx) return 0;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const seen = new Set<number>();
    const step = Math.max(1, Math.floor(data.length / 4 / 20_000));
    for (let i = 0; i < data.length / 4; i += step)
      seen.add((data[i * 4]! << 16) | (data[i * 4 + 1]! << 8) | data[i * 4 + 2]!);
    return seen.size;
  });
}

/** A hash of every canvas pixel: changes when anything on the remote screen changes. */
async function canvasFingerprint(page: Page): Promise<string> {
  return page.evaluate(() => {
    const canvas = document.querySelector(
      'canvas[aria-label="Remote desktop"]',
    ) as HTMLCanvasElement | null;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return '';
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let hash = 2166136261;
    for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ data[i]!, 16777619);
    return `${canvas.width}x${canvas.height}:${hash >>> 0}`;
  });
}

/** A painted screen: the X desktop has many colours; a text console (PORTAL_DESKTOP_APPLIANCE=console) a few. */
const MIN_COLOURS = process.env.PORTAL_DESKTOP_APPLIANCE === 'console' ? 2 : 16;

async function painted(page: Page, what: string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(what, async () => (await canvasColours(page)) >= MIN_COLOURS, timeoutMs, 500);
  } catch (error) {
    await shot(page, `failed-${what.replace(/\W+/g, '-')}`).catch(() => undefined);
    throw error;
  }
}

async function viewerState(page: Page): Promise<string> {
  return (await page.getByTestId('viewer-state').textContent()) ?? '';
}

describe('portal end to end', () => {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    loadRootEnv();
    // E2E_PORTAL_PORT pins the port, e.g. to the gateway's PORTAL_INTERNAL_URL so its session
    // events reach this portal.
    const port = Number(process.env.E2E_PORTAL_PORT) || (await freePort());
    const gatewaySecret = `e2e-gateway-secret-${Date.now()}`;
    const attachSecret = `e2e-attach-secret-0123456789abcdef-${Date.now()}`;
    hypervisor = await startEphemeralHypervisor();
    gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: gatewaySecret,
        attachTokenSecret: attachSecret,
        hypervisorUrl: hypervisor.url,
        hypervisorSecret: hypervisor.config.secret,
        portalInternalUrl: `http://127.0.0.1:${port}`,
        allowedOrigins: [],
        logLevel: 'warn',
      },
    });
    const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
    portal = await startPortalServer({
      port,
      hypervisor: { port: hypervisor.config.port, secret: hypervisor.config.secret },
      gatewayUrl,
      gatewaySecret,
      attachSecret,
      admin: ADMIN,
      env: {
        LOGIN_MAX_FAILURES_ACCOUNT: '5',
        LOGIN_MAX_FAILURES_ADDRESS: '100',
        DISPOSABLE_GRACE_SECONDS: '30',
      },
    });
    console.log(`# e2e database ready, migrate deploy ${portal.migrateMs} ms`);
    base = portal.url;
    db = portal.db;
    health = portal.health;
    for (const u of [ALICE, BOB, CAROL]) {
      await db.user.create({
        data: {
          email: u.email,
          name: u.name,
          passwordHash: await hashPassword(u.password),
          maxVms: 3,
          maxMemoryMiB: 2048,
        },
      });
    }
    console.log(
      `# portal at ${base}; hypervisor ${health.hypervisor.ok ? 'up' : 'down'}, gateway ${health.gateway.ok ? 'up' : 'down'}`,
    );
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
  });

  afterEach(() => {
    const seen = problems.splice(0);
    assert.deepEqual(seen, [], 'no navigation off the portal, no CSP violation');
  });

  after(async () => {
    await browser?.close();
    if (process.env.E2E_VERBOSE) console.log(portal?.log());
    await portal?.close();
    await gateway?.close();
    await hypervisor?.close();
  });

  test('the sign-in page: wrong password shows an error, repeated failures lock the account', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const res = await page.goto('/');
    assert.equal(
      new URL(page.url()).pathname,
      '/login',
      'signed-out visitors land on the sign-in page',
    );
    assert.ok(res);
    await shot(page, 'login');
    await page.getByLabel('Email').fill(CAROL.email);
    await page.getByLabel('Password').fill('not-her-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.locator('.alert-error');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /do not match an account/);
    await shot(page, 'login-wrong-password');
    let answered = 0;
    page.on('response', (r) => {
      if (r.url().endsWith('/api/auth/login')) answered++;
    });
    const submit = async (password: string) => {
      const before = answered;
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await waitFor(
        'the sign-in answer',
        async () =>
          answered > before && (await page.getByRole('button', { name: 'Sign in' }).isEnabled()),
        60_000,
        100,
      );
    };
    for (let i = 0; i < 4; i++) await submit(`wrong-${i}`);
    await waitFor('the lockout message', async () =>
      /locked/.test((await error.textContent()) ?? ''),
    );
    assert.match(
      (await error.textContent()) ?? '',
      /Too many failed sign-ins for this account from your network address\. It is locked here for \d+ minutes?/,
    );
    // Even the right password is refused while locked.
    await submit(CAROL.password);
    assert.match((await error.textContent()) ?? '', /locked/);
    assert.equal(new URL(page.url()).pathname, '/login');
    await shot(page, 'login-locked');
    // Field validation is client- and server-side, with clear messages.
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal(
      await page.locator('.field-error').first().textContent(),
      'Enter a valid email address.',
    );
    const bad = await pageApi(page, '/api/auth/login', 'POST', { email: 'x' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /valid email/);
    assert.ok(!JSON.stringify(bad.body).includes('at '), 'no stack trace');
    assert.ok(
      (await db.auditEvent.count({
        where: { action: 'login.lockout', actorEmail: CAROL.email },
      })) >= 1,
    );
    await ctx.close();
  });

  test('sessions: access token renewal through the refresh token, logout revokes', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, ALICE);
    await page.getByRole('heading', { name: /Welcome back/ }).waitFor();
    await shot(page, 'home', true);
    const cookies = await ctx.cookies();
    const access = cookies.find((c) => c.name === 'rd_access');
    const refresh = cookies.find((c) => c.name === 'rd_refresh');
    assert.ok(
      access?.httpOnly && access.sameSite === 'Lax',
      'access cookie is HttpOnly, SameSite=Lax',
    );
    assert.ok(
      refresh?.httpOnly && refresh.path === '/api/auth',
      'refresh cookie is HttpOnly and scoped to /api/auth',
    );
    // Drop the access token: the page renews it through the refresh endpoint and stays signed in.
    await ctx.clearCookies({ name: 'rd_access' });
    await page.goto('/');
    assert.equal(new URL(page.url()).pathname, '/');
    const renewed = (await ctx.cookies()).find((c) => c.name === 'rd_refresh');
    assert.notEqual(renewed?.value, refresh?.value, 'the refresh token rotated');
    // Replaying the old refresh token (after the race grace) would revoke the family; the unit
    // tests cover the timing. Logout revokes the session server-side:
    const stolenAccess = (await ctx.cookies()).find((c) => c.name === 'rd_access')!.value;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    const replay = await portal!.request('/api/me', {
      headers: { cookie: `rd_access=${stolenAccess}` },
    });
    assert.equal(replay.status, 401, 'a copied access token stops working at logout');
    await ctx.close();
  });

  test('a user gets 403 on /admin and on the admin APIs', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, BOB);
    for (const path of ['/admin', '/admin/users', '/admin/vms', '/admin/audit']) {
      const res = await page.goto(path);
      assert.equal(res?.status(), 403, `${path} is forbidden`);
      await page.getByText('This area is for administrators').waitFor();
    }
    await shot(page, 'forbidden');
    assert.equal(
      await page.getByRole('link', { name: 'Admin console' }).count(),
      0,
      'no admin link for users',
    );
    const calls: [string, string, unknown?][] = [
      ['/api/admin/users', 'GET'],
      [
        '/api/admin/users',
        'POST',
        { email: 'evil@e2e.test', name: 'Evil', password: 'evil-password-1', role: 'admin' },
      ],
      ['/api/admin/sessions', 'GET'],
      ['/api/admin/vms', 'GET'],
      ['/api/admin/hosts', 'GET'],
      ['/api/admin/audit', 'GET'],
    ];
    for (const [path, method, body] of calls) {
      const r = await pageApi(page, path, method, body);
      assert.equal(r.status, 403, `${method} ${path}`);
    }
    assert.equal(await db.user.count({ where: { email: 'evil@e2e.test' } }), 0);
    await ctx.close();
  });

  test("user A cannot reach user B's VM through any API or page", async () => {
    const bob = await db.user.findUniqueOrThrow({ where: { email: BOB.email } });
    const desktop = await db.appliance.findUniqueOrThrow({ where: { name: 'desktop' } });
    const browserApp = await db.appliance.findUniqueOrThrow({ where: { name: 'browser' } });
    const bobDesk = await db.vm.create({
      data: {
        ownerId: bob.id,
        kind: 'personal',
        applianceId: desktop.id,
        memoryMiB: 256,
        domainId: 'e2e-bob-desk',
        state: 'saved',
        hostId: 'local',
      },
    });
    const bobWeb = await db.vm.create({
      data: {
        ownerId: bob.id,
        kind: 'disposable',
        applianceId: browserApp.id,
        memoryMiB: 192,
        domainId: 'e2e-bob-web',
        state: 'saved',
        hostId: 'local',
        expiresAt: new Date(Date.now() + 3600_000),
        lastSeenAt: new Date(Date.now() + 3600_000),
      },
    });
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, ALICE);
    for (const vm of [bobDesk, bobWeb]) {
      const probes: [string, string, unknown?][] = [
        [`/api/vms/${vm.id}`, 'GET'],
        [`/api/vms/${vm.id}`, 'DELETE'],
        [`/api/vms/${vm.id}/attach-token`, 'POST', {}],
        [`/api/vms/${vm.id}/attach-token`, 'POST', { mode: 'view' }],
        [`/api/vms/${vm.id}/heartbeat`, 'POST'],
        [`/api/vms/${vm.id}/release`, 'POST'],
      ];
      for (const [path, method, body] of probes) {
        const r = await pageApi(page, path, method, body);
        assert.equal(r.status, 404, `${method} ${path} must be 404`);
        assert.ok(!JSON.stringify(r.body).includes('e2e-bob'), 'nothing of B leaks');
      }
      for (const path of [`/desktop/${vm.id}`, `/browser/${vm.id}`, `/admin/shadow/${vm.id}`]) {
        const res = await page.goto(path);
        assert.ok(res && [403, 404].includes(res.status()), `${path} answered ${res?.status()}`);
        assert.ok(!(await page.content()).includes('e2e-bob'));
        await page.goto('/');
      }
      for (const [path, method] of [
        [`/api/admin/vms/${vm.id}/actions`, 'POST'],
        [`/api/admin/vms/${vm.id}/thumbnail`, 'GET'],
      ] as const) {
        const r = await pageApi(
          page,
          path,
          method,
          method === 'POST' ? { action: 'destroy' } : undefined,
        );
        assert.equal(r.status, 403, `${method} ${path}`);
      }
    }
    // Unknown and malformed ids look the same as foreign ones.
    for (const id of ['cm0000000000000000000000', 'not-a-valid-id!', '..%2F..%2Fetc']) {
      assert.equal((await pageApi(page, `/api/vms/${id}`)).status, 404);
    }
    const mine = (await pageApi(page, '/api/me')).body as {
      desktop: unknown;
      disposables: unknown[];
    };
    assert.equal(mine.desktop, null, "B's desktop is not in A's home");
    assert.equal(mine.disposables.length, 0);
    await page.goto('/desktop/cm0000000000000000000000');
    await shot(page, 'not-found');
    // Bob himself can see his own VM.
    const bobCtx = await newContext();
    const bobPage = await bobCtx.newPage();
    await signIn(bobPage, BOB);
    assert.equal((await pageApi(bobPage, `/api/vms/${bobDesk.id}`)).status, 200);
    await bobCtx.close();
    await db.vm.updateMany({
      where: { id: { in: [bobDesk.id, bobWeb.id] } },
      data: { state: 'destroyed', destroyedAt: new Date() },
    });
    await ctx.close();
  });

  test('state-changing requests from another origin are refused', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await signIn(page, ALICE);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const evil = await portal!.request('/api/vms/disposable', {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
    });
    assert.equal(evil.status, 403);
    assert.equal((JSON.parse(evil.text) as { error: string }).error, 'bad_origin');
    const noOrigin = await portal!.request('/api/auth/logout', {
      method: 'POST',
      headers: { cookie },
    });
    assert.equal(noOrigin.status, 403);
    assert.equal((await pageApi(page, '/api/me')).status, 200, 'still signed in');
    await ctx.close();
  });

  test('admin console: every tab renders live data; users are created and disabled with validation', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    page.on('dialog', (d) => void d.accept());
    await signIn(page, ADMIN);
    await page.goto('/admin');
    await page.getByRole('heading', { name: 'Live sessions' }).waitFor();
    await shot(page, 'admin-sessions', true);
    await page.goto('/admin/vms');
    await page.waitForSelector('.filters');
    await page.getByLabel('State').selectOption('all');
    await page.waitForTimeout(600);
    await shot(page, 'admin-vms', true);
    await page.goto('/admin/hosts');
    await page.getByText('Guest memory').waitFor();
    await shot(page, 'admin-hosts', true);
    await page.goto('/admin/users');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Enter a name.').waitFor();
    await page.getByLabel('Name').fill('Dora Created');
    await page.getByLabel('Email').fill('dora@e2e.test');
    await page.getByLabel('Initial password').fill('short');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('Passwords need at least 10 characters.').waitFor();
    await page.getByLabel('Initial password').fill('dora-password-e2e');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-user="dora@e2e.test"]').waitFor();
    await page.getByLabel('Email').fill(ALICE.email);
    await page.getByLabel('Name').fill('Duplicate');
    await page.getByLabel('Initial password').fill('dupe-password-e2e');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('An account with that email already exists.').first().waitFor();
    await shot(page, 'admin-users', true);
    // The first test locked Carol out from this address: the Users page says so, and Unlock
    // (audited) lets her in again.
    const carolRow = page.locator(`tr[data-user="${CAROL.email}"]`);
    await carolRow.getByText('Locked out').waitFor();
    await shot(page, 'admin-users-locked', true);
    await carolRow.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText(`${CAROL.email} unlocked`).waitFor();
    await carolRow.getByRole('button', { name: 'Unlock' }).waitFor({ state: 'detached' });
    assert.equal(await db.loginFailure.count({ where: { email: CAROL.email } }), 0);
    assert.equal(await db.auditEvent.count({ where: { action: 'user.unlock' } }), 1);
    await page
      .locator('tr[data-user="dora@e2e.test"]')
      .getByRole('button', { name: 'Disable' })
      .click();
    await page.locator('tr[data-user="dora@e2e.test"]').getByText('Disabled').waitFor();
    const dora = await newContext();
    const doraPage = await dora.newPage();
    await doraPage.goto('/login');
    await doraPage.getByLabel('Email').fill('dora@e2e.test');
    await doraPage.getByLabel('Password').fill('dora-password-e2e');
    await doraPage.getByRole('button', { name: 'Sign in' }).click();
    // A disabled account answers exactly as a wrong password does (no password oracle).
    await doraPage.getByText('That email and password do not match an account.').waitFor();
    await dora.close();
    await page.goto('/admin/audit');
    await page.getByText('login.lockout').first().waitFor();
    await page.getByLabel('Event type').selectOption('login');
    await page.waitForTimeout(800);
    await shot(page, 'admin-audit', true);
    await ctx.close();
  });

  test('GET /api/health reports web, database, gateway and hypervisor', async () => {
    const res = await portal!.request('/api/health', {
      headers: { authorization: `Bearer ${portal!.env.GATEWAY_SECRET}` },
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const body = JSON.parse(res.text) as any;
    assert.equal(res.status, 200);
    assert.equal(body.web.ok, true);
    assert.equal(body.database.ok, true);
    assert.equal(body.database.provider, 'sqlite');
    assert.equal(typeof body.gateway.ok, 'boolean');
    assert.equal(typeof body.hypervisor.ok, 'boolean');
    // Anonymous callers learn up or down, nothing more.
    const anonymous = JSON.parse((await portal!.request('/api/health')).text) as object;
    assert.deepEqual(Object.keys(anonymous).sort(), [
      'database',
      'gateway',
      'hypervisor',
      'status',
      'web',
    ]);
    assert.deepEqual((anonymous as { database: object }).database, { ok: true });
  });

  test('one origin: redirects keep the host name, only the portal port is reachable, CSP on pages', async () => {
    const host = new URL(base).host;
    // As `curl -H "Host: …"` would see it: every redirect goes to the host it was asked as.
    for (const [path, asHost, expectedPath] of [
      ['/', host, '/api/auth/refresh?next=%2F'],
      ['/admin/users?x=1', host, '/api/auth/refresh?next=%2Fadmin%2Fusers%3Fx%3D1'],
      ['/', 'other-name.example.test:8080', '/api/auth/refresh?next=%2F'],
      ['/api/auth/refresh?next=%2Fdesktop%2Fabc', host, '/login?next=%2Fdesktop%2Fabc'],
      ['/api/auth/refresh?next=/%5Cevil.example', host, '/login?next=%2F'],
      ['/api/auth/refresh?next=/\\evil.example', host, '/login?next=%2F'],
      ['/api/auth/refresh?next=//evil.example', host, '/login?next=%2F'],
      ['/api/auth/refresh?next=https://evil.example', host, '/login?next=%2F'],
    ] as const) {
      const res = await portal!.request(path, { host: asHost });
      assert.equal(res.status, 307, path);
      assert.equal(res.headers.location, `http://${asHost}${expectedPath}`, `${path} as ${asHost}`);
    }
    // Pages carry a nonce-based CSP, and Next put that nonce on its scripts.
    const login = await portal!.request('/login');
    const csp = String(login.headers['content-security-policy']);
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    assert.match(csp, /script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
    assert.match(csp, /connect-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    const scripts = [...login.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.ok(scripts.length > 0);
    for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
    assert.equal(login.headers['strict-transport-security'], undefined, 'no HSTS over HTTP');
    // The gateway is reached through the portal's socket.io path only.
    const bearer = { authorization: `Bearer ${portal!.env.GATEWAY_SECRET}` };
    for (const path of ['/gateway/internal/sessions', '/gateway/metrics', '/gateway/healthz']) {
      assert.equal((await portal!.request(path, { headers: bearer })).status, 404, path);
    }
    const poll = await portal!.request(`${GATEWAY_SOCKET_PATH}/?EIO=4&transport=polling`);
    assert.equal(poll.status, 200);
    assert.match(poll.text, /^0\{"sid"/);
    // From "another computer", nothing but the portal's port answers.
    const gatewayPort = (gateway!.http.address() as { port: number }).port;
    for (const port of [gatewayPort, hypervisor!.config.port]) {
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(port, PORTAL_HOST_ADDRESS);
        socket.on('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      assert.equal(refused, 'ECONNREFUSED', `port ${port} at ${PORTAL_HOST_ADDRESS}`);
    }
  });

  test('after sign-in, `next` may only lead to a page of the portal', async () => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    for (const next of [
      '/\\evil.example',
      '/%5Cevil.example',
      '//evil.example',
      'javascript:alert(1)',
    ]) {
      await page.goto(`/login?next=${encodeURIComponent(next)}`);
      await page.getByLabel('Email').fill(ALICE.email);
      await page.getByLabel('Password').fill(ALICE.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 20_000 });
      assert.equal(new URL(page.url()).host, PORTAL_HOST_NAME + ':' + new URL(base).port);
      // Signed in, the refresh endpoint sends the same values home too.
      await page.goto(`/api/auth/refresh?next=${encodeURIComponent(next)}`);
      assert.equal(new URL(page.url()).pathname, '/');
      await ctx.clearCookies();
    }
    await page.goto('/login?next=%2Fadmin%2Faudit%3Fq%3Dx');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/admin/audit', { timeout: 20_000 });
    assert.equal(new URL(page.url()).search, '?q=x');
    await ctx.close();
  });

  describe('with the hypervisor and the gateway', () => {
    test(
      'desktop in the canvas, takeover, admin thumbnail + disconnect, resume, disposable browser gone after logout',
      { timeout: 600_000 },
      async () => {
        assert.deepEqual(
          { hypervisor: health.hypervisor.ok, gateway: health.gateway.ok },
          { hypervisor: true, gateway: true },
          '/api/health reports the hypervisor and the gateway up',
        );
        const { HypervisorClient } = await import('@raydesk/hypervisor/api');
        const hv = new HypervisorClient({
          url: hypervisor!.url,
          secret: hypervisor!.config.secret,
        });
        await hv.connected();
        const ctx1 = await newContext();
        const page1 = await ctx1.newPage();
        await signIn(page1, ALICE);
        assert.equal(await page1.getByTestId('desktop-state').textContent(), 'Not created yet');
        // The desktop page carries its first attach token: the viewer asks for none.
        const tokenRequests = (page: Page) => {
          const seen: string[] = [];
          page.on('request', (r) => {
            if (r.url().endsWith('/attach-token')) seen.push(r.url());
          });
          return seen;
        };
        const asked1 = tokenRequests(page1);
        // Where the page was when it opened each connection to the gateway.
        const sockets1: string[] = [];
        page1.on('websocket', () => sockets1.push(new URL(page1.url()).pathname));
        // New desktop: click to first full frame.
        let t0 = Date.now();
        await page1.getByRole('button', { name: /Open desktop/ }).click();
        await page1.waitForURL(/\/desktop\//, { timeout: 180_000 });
        await painted(page1, 'the desktop to be painted', 240_000);
        assert.deepEqual(asked1, [], 'the page carried its attach token');
        // The open answer's ticket joined the gateway while the page navigated (early attach),
        // and the desktop page's viewer took that connection over rather than opening another.
        assert.deepEqual(sockets1, ['/'], 'one connection, opened from the home page');
        const newMs = Date.now() - t0;
        console.log(`# open desktop -> first full frame, new VM: ${newMs} ms`);
        await shot(page1, 'desktop');
        // Typing reaches the guest: its echo changes the pixels.
        const beforeTyping = await canvasFingerprint(page1);
        await page1.focus('canvas[aria-label="Remote desktop"]');
        for (const key of ['r', 'a', 'y', 'd', 'e', 's', 'k']) await page1.keyboard.press(key);
        await waitFor(
          'the typed keys to change the picture',
          async () => (await canvasFingerprint(page1)) !== beforeTyping,
          30_000,
          250,
        );
        await shot(page1, 'desktop-typed');
        const vmId = page1.url().split('/desktop/')[1]!;
        const vm = await db.vm.findUniqueOrThrow({ where: { id: vmId } });
        assert.ok(vm.domainId);

        // Takeover from a second browser.
        const ctx2 = await newContext();
        const page2 = await ctx2.newPage();
        page2.on('dialog', (d) => void d.accept());
        await signIn(page2, ALICE);
        const asked2 = tokenRequests(page2);
        let sockets2 = 0;
        page2.on('websocket', () => sockets2++);
        await page2.goto(`/desktop/${vmId}`);
        await painted(page2, 'the second browser to paint', 60_000);
        assert.deepEqual(asked2, [], 'the second page carried its attach token too');
        // Loaded afresh, the page joined the gateway from its first script (early attach), and
        // its viewer took that connection over.
        assert.equal(
          await page2.evaluate(() => performance.getEntriesByName('raydesk:early-attach').length),
          1,
          'the page script joined early',
        );
        assert.equal(sockets2, 1, 'one connection');
        await waitFor(
          'the first browser to be told it moved',
          async () => /elsewhere/i.test(await viewerState(page1)),
          20_000,
        );
        await shot(page1, 'desktop-moved-elsewhere');
        const home1 = await ctx1.newPage();
        await home1.goto('/');
        await home1.getByTestId('desktop-state').waitFor();
        await waitFor(
          'the other browser in "Connected now"',
          async () => (await home1.locator('[aria-label="Connected now"] li').count()) > 0,
          15_000,
        ).catch(() => undefined);
        await shot(home1, 'home-running', true);
        await home1.close();

        // The admin sees the session with a thumbnail, shadows it, and disconnects it.
        const ctx3 = await newContext();
        const admin = await ctx3.newPage();
        admin.on('dialog', (d) => void d.accept());
        await signIn(admin, ADMIN);
        await admin.goto('/admin');
        const row = admin.locator('tr', { hasText: vm.domainId! }).first();
        await row.waitFor({ timeout: 20_000 });
        await waitFor(
          'the thumbnail',
          async () =>
            row
              .locator('img.thumb')
              .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
          30_000,
          500,
        );
        await shot(admin, 'admin-live-session');
        const shadow = await ctx3.newPage();
        await shadow.goto(`/admin/shadow/${vmId}`);
        await painted(shadow, 'the shadow view to paint', 60_000);
        await shot(shadow, 'admin-shadow');
        assert.ok(
          (await db.auditEvent.count({ where: { action: 'session.shadow', targetId: vmId } })) >= 1,
          'shadowing is audited',
        );
        await shadow.close();
        await row.getByRole('button', { name: 'Disconnect' }).first().click();
        await waitFor(
          'the user to be disconnected',
          async () => /disconnect|moved|elsewhere/i.test(await viewerState(page2)),
          20_000,
        );

        // Suspend (admin) and resume (user): click to first full frame for a resumed VM.
        const suspended = await pageApi(admin, `/api/admin/vms/${vmId}/actions`, 'POST', {
          action: 'suspend',
        });
        assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
        await page2.goto('/');
        await waitFor(
          'the home page to show it suspended',
          async () => (await page2.getByTestId('desktop-state').textContent()) === 'Suspended',
          30_000,
        );
        await shot(page2, 'home-suspended', true);
        t0 = Date.now();
        await page2.getByRole('button', { name: /open desktop/i }).click();
        await page2.waitForURL(/\/desktop\//, { timeout: 180_000 });
        await painted(page2, 'the resumed desktop to paint', 240_000);
        const resumedMs = Date.now() - t0;
        console.log(`# open desktop -> first full frame, resumed VM: ${resumedMs} ms`);

        // Disposable browser: opens in a viewer, tells the person what it is, gone after logout.
        await page2.goto('/browser/new');
        await page2.waitForURL(/\/browser\/[a-z0-9]+$/, { timeout: 180_000 });
        await page2.getByText('its disk is wiped').waitFor();
        await painted(page2, 'the disposable browser to paint', 240_000);
        await shot(page2, 'disposable-browser');
        const webId = page2.url().split('/browser/')[1]!;
        const web = await db.vm.findUniqueOrThrow({ where: { id: webId } });
        assert.ok((await hv.list()).some((d) => d.id === web.domainId));
        const out = await pageApi(page2, '/api/auth/logout', 'POST');
        assert.equal(out.status, 200);
        await waitFor(
          'the disposable VM to be destroyed',
          async () =>
            !(await hv.list()).some((d) => d.id === web.domainId && d.state !== 'stopped'),
          30_000,
          500,
        );
        assert.equal((await db.vm.findUniqueOrThrow({ where: { id: webId } })).state, 'destroyed');
        const leftovers: string[] = [];
        const scan = (dir: string) => {
          if (!existsSync(dir)) return;
          for (const e of readdirSync(dir, { withFileTypes: true })) {
            if (e.name.includes(web.domainId!)) leftovers.push(join(dir, e.name));
            if (e.isDirectory()) scan(join(dir, e.name));
          }
        };
        await waitFor(
          'no file of the disposable VM to remain',
          async () => {
            leftovers.length = 0;
            scan(dataDir());
            return leftovers.length === 0;
          },
          15_000,
          500,
        ).catch(() => assert.deepEqual(leftovers, [], 'files of the disposable VM remain'));
        hv.close();
        await Promise.all([ctx1.close(), ctx2.close(), ctx3.close()]);
      },
    );
  });
});
