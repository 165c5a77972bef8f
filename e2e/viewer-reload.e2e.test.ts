// The desktop page carries its first attach token, and a token attaches once. Every way back to
// the page (reloads, the router restoring the page it rendered before, history after a full
// navigation, the address) attaches with one gateway handshake and nothing refused, and the
// viewer then stays attached: no reconnect loop. The gateway counts the handshakes.
//   npx tsx --test e2e/viewer-reload.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import { PORTAL_BUILD_ID, type PortalServer } from '@raydesk/web/testing';
import {
  addPasswordUser,
  launchUserBrowser,
  startDesktopStack,
  type DesktopStack,
} from './lib/desktop-stack.ts';

const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@reload.test', password: 'admin-password-reload' };
const ALICE = { email: 'alice@reload.test', password: 'alice-password-reload', name: 'Alice' };

if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

let stack: DesktopStack;
let portal: PortalServer;
let browser: Browser;
/** Gateway handshakes (socket.io transports opened) and attached sessions, counted by the gateway. */
const gatewaySide = { handshakes: 0, attached: 0 };

/** Handshakes the gateway refused, by reason (its auth-failure counter). */
async function refusals(): Promise<Record<string, number>> {
  const { values } = await stack.gateway.metrics.authFailures.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]));
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  stack = await startDesktopStack('reload', ADMIN);
  ({ portal } = stack);
  stack.gateway.io.engine.on('connection', () => gatewaySide.handshakes++);
  stack.gateway.io.on('connection', () => gatewaySide.attached++);
  await addPasswordUser(portal, ALICE);
  browser = await launchUserBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/** Distinct colours among sampled canvas pixels: a painted X desktop has many. */
function canvasColours(page: Page): Promise<number> {
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

/** The viewer page shows the desktop: attached ("Connected") and painted. */
async function attached(page: Page, what: string, timeoutMs = 90_000): Promise<void> {
  try {
    await waitFor(
      what,
      async () =>
        /\/desktop\//.test(page.url()) &&
        (await page.getByTestId('viewer-state').textContent()) === 'Connected' &&
        (await canvasColours(page)) >= 16,
      timeoutMs,
      200,
    );
  } catch (error) {
    await page
      .screenshot({ path: join(SHOTS, `failed-reload-${what.replace(/\W+/g, '-')}.png`) })
      .catch(() => undefined);
    throw error;
  }
}

test('reloads and back/forward navigations each attach with a bounded number of handshakes, and never loop', async () => {
  const ctx = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    baseURL: portal.url,
  });
  const page = await ctx.newPage();
  // Sockets the page opens to the gateway (through the portal's origin), as the browser sees them.
  let browserSockets = 0;
  page.on('websocket', (ws) => {
    if (ws.url().includes('socket.io')) browserSockets++;
  });
  const tokenRequests: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/attach-token')) tokenRequests.push(r.url());
  });
  await page.goto('/login');
  await page.getByLabel('Email').fill(ALICE.email);
  await page.getByLabel('Password').fill(ALICE.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', { timeout: 30_000 });
  await page.getByRole('button', { name: /Open desktop/ }).click();
  await page.waitForURL(/\/desktop\//, { timeout: 180_000 });
  await attached(page, 'the new desktop', 240_000);
  assert.deepEqual(tokenRequests, [], 'the first attach used the token that came with the page');
  const desktopUrl = page.url();

  /**
   * Runs a navigation back to the desktop and checks what attaching cost, as the gateway counted
   * it: one handshake and one attach, nothing refused (no used or expired token presented).
   */
  const step = async (what: string, navigate: () => Promise<unknown>): Promise<void> => {
    const before = { ...gatewaySide, refused: await refusals(), tokens: tokenRequests.length };
    const sockets = browserSockets;
    await navigate();
    await attached(page, what);
    const handshakes = gatewaySide.handshakes - before.handshakes;
    const attaches = gatewaySide.attached - before.attached;
    const refused = Object.fromEntries(
      Object.entries(await refusals())
        .map(([reason, n]) => [reason, n - (before.refused[reason] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    const tokens = tokenRequests.length - before.tokens;
    console.log(
      `# ${what}: ${handshakes} handshake(s), ${attaches} attach(es), ` +
        `${browserSockets - sockets} browser socket(s), ${tokens} token request(s), ` +
        `refused ${JSON.stringify(refused)}`,
    );
    assert.equal(handshakes, 1, `${what}: handshakes`);
    assert.equal(attaches, 1, `${what}: attaches`);
    assert.deepEqual(refused, {}, `${what}: refused handshakes`);
    assert.ok(tokens <= 1, `${what}: ${tokens} token requests`);
  };

  // A reload renders the page again with a fresh token: no token request.
  for (let i = 1; i <= 4; i++) {
    const asked: number = tokenRequests.length;
    await step(`reload ${i}`, () => page.reload());
    assert.equal(tokenRequests.length, asked, 'a reloaded page carries its own token');
  }

  // Client-side navigation to the portal and back: the router may restore the page it rendered
  // before, with its spent token; the viewer does not present it again but asks for a fresh one.
  for (let i = 1; i <= 2; i++) {
    await page.getByRole('link', { name: 'Back to portal' }).click();
    await page.waitForURL((url) => url.pathname === '/', { timeout: 30_000 });
    await step(`back to the desktop ${i}`, () => page.goBack());
    await page.goForward();
    await page.waitForURL((url) => url.pathname === '/', { timeout: 30_000 });
    await step(`back again ${i}`, () => page.goBack());
  }

  // A full navigation away and back (a new render, or the back-forward cache), and the address.
  await page.goto('/');
  await step('history back after a full navigation', () => page.goBack());
  await step('the desktop opened by its address', () => page.goto(desktopUrl));

  // Settled: no handshake more while the viewer stays attached.
  const settled = gatewaySide.handshakes;
  await new Promise((r) => setTimeout(r, 5_000));
  assert.equal(gatewaySide.handshakes, settled, 'no reconnect loop');
  assert.equal(await page.getByTestId('viewer-state').textContent(), 'Connected');
  await page.screenshot({ path: join(SHOTS, 'desktop-after-reloads.png') });
  await ctx.close();
});
