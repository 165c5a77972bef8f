/// <reference lib="dom" />
// The viewer in headless Chromium reconnects by itself for every cause but a takeover, a
// sign-out or an administrator's disconnect: a server-side disconnect without a word, the
// gateway's "restarting" notice, and the portal being down meanwhile (it keeps trying, and
// "Reconnect now" skips the wait). A sign-out (401 from the portal) and an admin's disconnect
// stop it. Real hypervisor (in this process, a console VM), real gateway, real browser.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  servePage,
  type TestPageServer,
} from '../testing/browser-harness.ts';

const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');

interface StateRecord {
  state: string;
  detail: { reason?: string; message?: string; retryInMs?: number };
}

const states = (p: Page) =>
  p.evaluate(() => (window as unknown as { __states: StateRecord[] }).__states);
const waitState = (p: Page, s: string, timeout = 30_000) =>
  p.waitForFunction(
    (want) => (window as unknown as { __viewer: { state: string } }).__viewer.state === want,
    s,
    { timeout },
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the viewer comes back by itself', { skip: chromiumMissing() ?? false }, () => {
  let hv: RunningHypervisor;
  let probe: HypervisorClient;
  let gateway: Gateway;
  let page: TestPageServer;
  let browser: Browser;
  let p: Page;

  before(async () => {
    hv = await startEphemeralHypervisor();
    probe = new HypervisorClient({ url: hv.url, secret: hv.config.secret, timeoutMs: 600_000 });
    await probe.connected();
    const vm = await probe.create({ appliance: 'console', name: 'reconnect' });
    const attachSecret = randomBytes(32).toString('hex');
    gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: randomBytes(16).toString('hex'),
        attachTokenSecret: attachSecret,
        hypervisorUrl: hv.url,
        hypervisorSecret: hv.config.secret,
        portalInternalUrl: null,
        allowedOrigins: [],
        logLevel: 'silent',
      },
      logger: pino({ level: 'silent' }),
    });
    const { url } = await gateway.listen(0, '127.0.0.1');
    page = await servePage({
      gatewayUrl: url,
      vm: vm.id,
      attachSecret,
      bundle: await bundleViewer(),
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    p = await context.newPage();
    p.on('pageerror', (e) => console.log('# page error:', e.message));
    await p.goto(page.url);
    await waitState(p, 'connected');
    await p.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
  });

  after(async () => {
    await browser?.close();
    await page?.close();
    await gateway?.close();
    probe?.close();
    await hv?.close();
  });

  /** States recorded after index `from`. */
  const since = async (from: number) => (await states(p)).slice(from);

  test('a server-side disconnect without a word: reconnects', async () => {
    const from = (await states(p)).length;
    for (const socket of gateway.io.sockets.sockets.values()) socket.disconnect(true);
    await p.waitForFunction(
      (n) => (window as unknown as { __states: StateRecord[] }).__states.length > n + 1,
      from,
    );
    await waitState(p, 'connected');
    const seen = await since(from);
    assert.equal(seen[0]!.state, 'reconnecting');
    assert.equal(seen[0]!.detail.reason, 'io server disconnect');
    assert.equal(seen.at(-1)!.state, 'connected');
  });

  test('"the gateway is restarting": reconnects, and says why while it does', async () => {
    const from = (await states(p)).length;
    gateway.sessions.closeAll();
    await waitState(p, 'connected');
    const reconnecting = (await since(from)).find((s) => s.state === 'reconnecting')!;
    assert.equal(reconnecting.detail.reason, 'gateway-shutdown');
    assert.equal(reconnecting.detail.message, 'The gateway is restarting.');
  });

  test('the portal down: keeps trying; "Reconnect now" skips the wait', async () => {
    page.tokenStatus = 503;
    const requests = page.tokenRequests;
    gateway.sessions.closeAll();
    await p.waitForFunction(() =>
      (window as unknown as { __states: StateRecord[] }).__states.some(
        (s) => s.detail.message === 'Cannot reach the portal.',
      ),
    );
    // Retries continue with growing delays while the portal is down.
    const end = Date.now() + 20_000;
    while (page.tokenRequests < requests + 3 && Date.now() < end) await sleep(100);
    assert.ok(page.tokenRequests >= requests + 3, `${page.tokenRequests - requests} attempts`);
    const overlay = p.locator('.rd-overlay');
    assert.match(
      (await overlay.textContent()) ?? '',
      /Cannot reach the portal\. (Trying|Trying again)/,
    );
    const button = overlay.getByRole('button', { name: 'Reconnect now' });
    assert.ok(await button.isVisible());
    mkdirSync(ARTIFACTS, { recursive: true });
    await p.screenshot({ path: resolve(ARTIFACTS, 'viewer-reconnecting-portal-down.png') });
    page.tokenStatus = 200;
    const before = page.tokenRequests;
    await button.click();
    await waitState(p, 'connected');
    assert.ok(page.tokenRequests > before, 'the click asked for a token at once');
    assert.equal(await p.evaluate(() => (window as unknown as { __marker: number }).__marker), 42);
  });

  test('signed out (401): stops and says so; no more attempts', async () => {
    page.tokenStatus = 401;
    gateway.sessions.closeAll();
    await waitState(p, 'disconnected');
    const last = (await states(p)).at(-1)!;
    assert.equal(last.detail.reason, 'signed-out');
    const overlay = p.locator('.rd-overlay');
    assert.match((await overlay.textContent()) ?? '', /Signed out.*You were signed out/);
    assert.equal(await p.locator('.rd-pill').textContent(), 'Signed out');
    const requests = page.tokenRequests;
    await sleep(3_000);
    assert.equal(page.tokenRequests, requests, 'no retry after a sign-out');
    assert.equal(
      await p.evaluate(() => (window as unknown as { __viewer: { state: string } }).__viewer.state),
      'disconnected',
    );
  });

  test("an administrator's disconnect stops it too", async () => {
    page.tokenStatus = 200;
    await p.locator('.rd-overlay').getByRole('button', { name: 'Reconnect' }).click();
    await waitState(p, 'connected');
    const [session] = gateway.sessions.list();
    assert.ok(gateway.sessions.disconnect(session!.id));
    await waitState(p, 'disconnected');
    assert.equal((await states(p)).at(-1)!.detail.reason, 'admin-disconnect');
    const requests = page.tokenRequests;
    await sleep(2_000);
    assert.equal(page.tokenRequests, requests, 'no retry after an admin disconnect');
  });
});
