/// <reference lib="dom" />
// Real browser (headless Chromium) against the gateway and a fake hypervisor: a page that joins
// the gateway before its viewer has loaded (early-attach.ts) hands that connection to the viewer,
// which replays what came meanwhile; one connection, one attach, the desktop painted. A connection
// no viewer adopts is closed; a refused one leaves the viewer to attach as it would have.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SECRETS, startHarness, type Harness } from '@raydesk/gateway/testing';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  PIXEL_SCRIPT,
  bundleEarlyAttach,
  bundleViewer,
  chromiumMissing,
  servePage,
  type TestPageServer,
} from '../testing/browser-harness.ts';

const skip = chromiumMissing();

let h: Harness;
let page: TestPageServer;
let browser: Browser;

before(async () => {
  if (skip) return;
  h = await startHarness();
  page = await servePage({
    gatewayUrl: h.url,
    vm: 'vm-1',
    attachSecret: SECRETS.attach,
    bundle: await bundleViewer(),
    earlyBundle: await bundleEarlyAttach(),
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await page?.close();
  await h?.close();
});

/** Counts the page's WebSockets as they are created. */
const COUNT_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__sockets = 0;
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets++; }
  };
})();`;

async function open(query: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  await context.addInitScript(COUNT_SOCKETS);
  const p = await context.newPage();
  p.on('pageerror', (e) => console.log('# page error:', e.message));
  p.on('console', (m) => console.log('# console:', m.text()));
  // Not waiting for the load event: that waits for the viewer's script, held back on purpose.
  await p.goto(`${page.url}/${query}`, { waitUntil: 'commit' });
  return p;
}

const gauge = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
const sockets = (p: Page) =>
  p.evaluate(() => (window as unknown as { __sockets: number }).__sockets);
const waitState = (p: Page, s: string, timeout = 8000) =>
  p.waitForFunction(
    (want) => (window as unknown as { __viewer?: { state: string } }).__viewer?.state === want,
    s,
    { timeout },
  );
const painted = (p: Page) =>
  p.waitForFunction(
    () => (window as unknown as { __paints?: { full: boolean }[] }).__paints?.some((x) => x.full),
    undefined,
    { timeout: 8000 },
  );

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test(
  'the viewer adopts the connection the page opened early, and paints what came meanwhile',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const attaches = await gauge(h.gateway.metrics.attaches);
    const asked = page.tokenRequests;
    // The viewer's script arrives a second late: the session is live before the viewer exists.
    const p = await open('?ticket=page&early=1&viewerDelay=1000');
    await until(
      async () => (await gauge(h.gateway.metrics.attaches)) === attaches + 1,
      'the early attach',
    );
    assert.equal(
      await p.evaluate(() => typeof (window as { RaydeskViewer?: unknown }).RaydeskViewer),
      'undefined',
      'attached before the viewer loaded',
    );
    await waitState(p, 'connected');
    await painted(p);
    // The desktop is on the canvas: the fake desktop's blue background at (5, 5).
    assert.equal(await p.evaluate(PIXEL_SCRIPT, [5, 5]), 0x3a6ea5);
    assert.equal(await sockets(p), 1, 'one WebSocket: the early one');
    assert.equal(await gauge(h.gateway.metrics.attaches), attaches + 1, 'one attach');
    assert.equal(page.tokenRequests, asked, 'no token request');
    // Messages go out through the adopted connection too: a refresh brings a new full frame.
    const fullPaints = () =>
      p.evaluate(
        () =>
          (window as unknown as { __paints: { full: boolean }[] }).__paints.filter((x) => x.full)
            .length,
      );
    const before = await fullPaints();
    await p.evaluate(() =>
      (
        window as unknown as { __viewer: { socket: { emit(e: string, m: object): void } } }
      ).__viewer.socket.emit('display:refresh', {}),
    );
    await until(async () => (await fullPaints()) > before, 'a full frame after the refresh');
    // A reconnect is an ordinary one, with a fresh token.
    await p.evaluate(() =>
      (window as unknown as { __viewer: { connect(): void } }).__viewer.connect(),
    );
    await waitState(p, 'connected');
    assert.equal(page.tokenRequests, asked + 1);
    assert.equal(await sockets(p), 2);
    await p.context().close();
  },
);

test(
  'a connection no viewer adopts is closed, and its session ends',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const attaches = await gauge(h.gateway.metrics.attaches);
    const p = await open('?ticket=page&early=1&viewerDelay=never&adoptWithinMs=1500');
    await until(
      async () => (await gauge(h.gateway.metrics.attaches)) === attaches + 1,
      'the early attach',
    );
    const sessions = await gauge(h.gateway.metrics.sessions);
    await until(
      async () => (await gauge(h.gateway.metrics.sessions)) === sessions - 1,
      'the session to end',
    );
    await p.context().close();
  },
);

test(
  'an early connection the gateway refuses leaves the viewer to attach with a fresh token',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const asked = page.tokenRequests;
    const p = await open('?ticket=expired&early=1&viewerDelay=300');
    await waitState(p, 'connected');
    await painted(p);
    assert.equal(page.tokenRequests, asked + 1, 'one fresh token');
    assert.equal(await sockets(p), 2);
    const seen = await p.evaluate(() =>
      (window as unknown as { __states: { state: string }[] }).__states.map((s) => s.state),
    );
    assert.ok(!seen.includes('error') && !seen.includes('reconnecting'), seen.join(' → '));
    await p.context().close();
  },
);

test(
  'a page script that runs after the viewer started does not join a second time',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const attaches = await gauge(h.gateway.metrics.attaches);
    const p = await open('?ticket=page&early=late');
    await waitState(p, 'connected');
    await painted(p);
    // The late script has run (it follows the viewer's in the page) and had its chance to join.
    await p.waitForLoadState('load');
    await sleep(500);
    assert.equal(await sockets(p), 1, 'only the viewer connected');
    assert.equal(await gauge(h.gateway.metrics.attaches), attaches + 1);
    assert.equal(
      await p.evaluate(() => performance.getEntriesByName('raydesk:early-attach').length),
      0,
      'the late script did not join',
    );
    await waitState(p, 'connected');
    await p.context().close();
  },
);
