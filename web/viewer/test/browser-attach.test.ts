/// <reference lib="dom" />
// Real browser (headless Chromium) against the gateway and a fake hypervisor: a token delivered
// with the page attaches without a token request; a stale page token is replaced by a fresh one
// at once; a token the gateway refuses for good says so in plain words.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SECRETS, startHarness, type Harness } from '@raydesk/gateway/testing';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  PIXEL_SCRIPT,
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
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await page?.close();
  await h?.close();
});

async function open(query: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const p = await context.newPage();
  p.on('pageerror', (e) => console.log('# page error:', e.message));
  await p.goto(`${page.url}/${query}`);
  return p;
}

const waitState = (p: Page, s: string, timeout = 8000) =>
  p.waitForFunction(
    (want) => (window as unknown as { __viewer: { state: string } }).__viewer.state === want,
    s,
    { timeout },
  );
const states = (p: Page) =>
  p.evaluate(() =>
    (window as unknown as { __states: { state: string }[] }).__states.map((s) => s.state),
  );
const painted = (p: Page) =>
  p.waitForFunction(
    () => (window as unknown as { __paints: { full: boolean }[] }).__paints.some((x) => x.full),
    undefined,
    { timeout: 8000 },
  );

test(
  'a token delivered with the page attaches without asking the portal for one',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const asked = page.tokenRequests;
    const p = await open('?ticket=page');
    await waitState(p, 'connected');
    await painted(p);
    assert.equal(page.tokenRequests, asked, 'no token request for the first attach');
    // The desktop is on the canvas: the fake desktop's blue background at (5, 5).
    assert.equal(await p.evaluate(PIXEL_SCRIPT, [5, 5]), 0x3a6ea5);
    // A reconnect asks for a fresh token (the page's has been used).
    await p.evaluate(() =>
      (window as unknown as { __viewer: { connect(): void } }).__viewer.connect(),
    );
    await waitState(p, 'connected');
    assert.equal(page.tokenRequests, asked + 1);
    await p.context().close();
  },
);

test(
  'a viewer mounted again in the same document does not present the spent page token',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const failures = async () =>
      (await h.gateway.metrics.authFailures.get()).values.reduce((sum, v) => sum + v.value, 0);
    const p = await open('?ticket=page');
    await waitState(p, 'connected');
    const asked = page.tokenRequests;
    const refused = await failures();
    // As a router restoring an earlier render does: a new viewer with the same page ticket.
    await p.evaluate(() => {
      const w = window as unknown as {
        __viewer: { options: unknown; destroy(): void };
        RaydeskViewer: { RemoteViewer: new (el: HTMLElement, o: unknown) => { connect(): void } };
      };
      const options = w.__viewer.options;
      w.__viewer.destroy();
      const again = new w.RaydeskViewer.RemoteViewer(document.getElementById('app')!, options);
      (window as unknown as { __viewer: unknown }).__viewer = again;
      again.connect();
    });
    await waitState(p, 'connected');
    await painted(p);
    assert.equal(page.tokenRequests, asked + 1, 'it asked for a fresh token');
    assert.equal(await failures(), refused, 'the gateway refused nothing');
    await p.context().close();
  },
);

test(
  'an expired token in the page is replaced by a fresh one at once, with no error shown',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const asked = page.tokenRequests;
    const p = await open('?ticket=expired');
    await waitState(p, 'connected');
    await painted(p);
    assert.equal(page.tokenRequests, asked + 1, 'one fresh token');
    const seen = await states(p);
    assert.ok(!seen.includes('error') && !seen.includes('reconnecting'), seen.join(' → '));
    await p.context().close();
  },
);

test(
  'a token the gateway refuses is not retried, and the viewer says why',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    // A token for the right VM signed with the wrong secret: /token answers it as a portal would
    // not, so the refusal comes from the gateway's handshake.
    const wrong = await servePage({
      gatewayUrl: h.url,
      vm: 'vm-1',
      attachSecret: 'not-the-gateway-secret-0123456789abcdef',
      bundle: await bundleViewer(),
    });
    try {
      const context = await browser.newContext();
      const p = await context.newPage();
      await p.goto(`${wrong.url}/`);
      await waitState(p, 'error');
      const text = await p.locator('.rd-overlay').innerText();
      assert.match(text, /refused access to this desktop/);
      assert.equal(wrong.tokenRequests, 1, 'a refusal is not retried');
      await context.close();
    } finally {
      await wrong.close();
    }
  },
);
