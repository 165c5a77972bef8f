/// <reference lib="dom" />
// Real browser (headless Chromium) against the gateway and a fake hypervisor: canvas pixels,
// typing changes the picture, takeover shows "opened elsewhere", shadowing shows "watched",
// reconnect after a network blip, plus measured bytes/s, encode time and input-to-paint latency.
// (browser-real.test.ts does the same against the real hypervisor daemon.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { SECRETS, sleep, startHarness, type Harness } from '@raydesk/gateway/testing';
import {
  CANVAS_HASH_SCRIPT,
  CHROMIUM,
  CHROMIUM_ARGS,
  PIXEL_SCRIPT,
  bundleViewer,
  chromiumMissing,
  percentile,
  servePage,
  type TestPageServer,
} from '../testing/browser-harness.ts';

const skip = chromiumMissing();
const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');

let h: Harness;
let page: TestPageServer;
let browser: Browser;
const encodeMs: number[] = [];

before(async () => {
  if (skip) return;
  h = await startHarness();
  const observe = h.gateway.metrics.encodeSeconds.observe.bind(h.gateway.metrics.encodeSeconds);
  h.gateway.metrics.encodeSeconds.observe = ((v: number) => {
    encodeMs.push(v * 1000);
    observe(v);
  }) as typeof observe;
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

async function open(query = ''): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const p = await context.newPage();
  p.on('pageerror', (e) => console.log('# page error:', e.message));
  await p.goto(`${page.url}/${query}`);
  return p;
}

const state = (p: Page) =>
  p.evaluate(() => (window as unknown as { __viewer: { state: string } }).__viewer.state);
const waitState = (p: Page, s: string, timeout = 8000) =>
  p.waitForFunction(
    (want) => (window as unknown as { __viewer: { state: string } }).__viewer.state === want,
    s,
    { timeout },
  );
const bytes = (p: Page) =>
  p.evaluate(
    () => (window as unknown as { __viewer: { stats: { bytes: number } } }).__viewer.stats.bytes,
  );

test(
  'headless Chromium views, types, is taken over, shadowed and reconnects',
  { skip: skip ?? false, timeout: 120_000 },
  async () => {
    const a = await open();
    await waitState(a, 'connected');
    await a.waitForFunction(
      () => (window as unknown as { __paints: unknown[] }).__paints.length > 0,
    );
    assert.equal(await a.evaluate(PIXEL_SCRIPT, [10, 10]), 0x3a6ea5, 'desktop background');
    assert.equal(await a.evaluate(PIXEL_SCRIPT, [100, 45]), 0x1c3f8c, 'title bar');
    assert.equal(await a.getByRole('application', { name: 'Remote desktop' }).count(), 1);

    // Typing: click into the canvas (focus), type, see pixels change at the text cursor.
    const vm = h.hv.vms.get('vm-1')!;
    const box = (await a.locator('canvas').boundingBox())!;
    await a.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const cursor = vm.cursor;
    const cx = 48 + (cursor % 40) * 9 + 3;
    const cy = 68 + Math.floor(cursor / 40) * 18 + 8;
    const beforeTyping = await a.evaluate(PIXEL_SCRIPT, [cx, cy]);
    await a.keyboard.type('hi');
    await a.waitForFunction(
      ([x, y]) => {
        const c = document.querySelector('canvas')!;
        const d = c.getContext('2d')!.getImageData(x!, y!, 1, 1).data;
        return d[0] === 0x20 && d[1] === 0x20;
      },
      [cx, cy],
    );
    assert.notEqual(beforeTyping, 0x202020);
    assert.deepEqual(
      h.hv.chars.slice(-2).map((c) => c.char),
      ['h', 'i'],
      'printable keys go as the characters they carry',
    );
    // Tab and F-keys are captured, not eaten by the browser.
    await a.keyboard.press('Tab');
    await a.keyboard.press('F5');
    await sleep(200);
    assert.ok(h.hv.keys.some((k) => k.code === 'Tab'));
    assert.ok(
      h.hv.keys.some((k) => k.code === 'F5'),
      'F5 reached the VM instead of reloading',
    );
    assert.equal(await state(a), 'connected', 'page did not reload');

    // Exact mouse mapping under scaling: click the canvas at guest (320, 240).
    const scaleX = box.width / 640;
    await a.mouse.move(box.x + 320.5 * scaleX, box.y + 240.5 * (box.height / 480));
    await sleep(100);
    const last = h.hv.pointers.at(-1)!;
    assert.deepEqual([last.x, last.y], [320, 240]);

    // Measurements: bytes/s idle, typing and a scripted window drag; input-to-paint latency.
    await sleep(500);
    let b0 = await bytes(a);
    await sleep(3000);
    const idleBps = ((await bytes(a)) - b0) / 3;
    const latencies: number[] = [];
    b0 = await bytes(a);
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      const lat = await a.evaluate(async () => {
        const w = window as unknown as { __paints: { at: number }[] };
        const n = w.__paints.length;
        const start = performance.now();
        const target = document.querySelector('canvas')!;
        target.dispatchEvent(
          new KeyboardEvent('keydown', { code: 'KeyX', key: 'x', bubbles: true }),
        );
        target.dispatchEvent(new KeyboardEvent('keyup', { code: 'KeyX', key: 'x', bubbles: true }));
        while (w.__paints.length === n) {
          if (performance.now() - start > 3000) return -1;
          await new Promise((r) => setTimeout(r, 1));
        }
        return w.__paints[n]!.at - start;
      });
      if (lat >= 0) latencies.push(lat);
      await sleep(70); // ~10 characters per second
    }
    const typingBps = ((await bytes(a)) - b0) / ((Date.now() - t0) / 1000);
    encodeMs.length = 0;
    b0 = await bytes(a);
    const tDrag = Date.now();
    for (let i = 0; i < 90; i++) {
      const x = 40 + (i % 30) * 8;
      h.hv.fill(vm, x - 8, 40, 8, 300, [0x3a, 0x6e, 0xa5]);
      h.hv.fill(vm, x, 40, 400, 300, [0xf0, 0xf0, 0xf0]);
      h.hv.fill(vm, x, 40, 400, 20, [0x1c, 0x3f, 0x8c]);
      h.hv.noise(vm, x + 20, 80, 120, 90); // a picture inside the window
      await sleep(33);
    }
    const dragBps = ((await bytes(a)) - b0) / ((Date.now() - tDrag) / 1000);
    const dragEncode = [...encodeMs];
    console.log(
      `# browser, fake hypervisor 640x480: idle ${idleBps.toFixed(0)} B/s; typing ~10 chars/s ${(typingBps / 1024).toFixed(1)} KiB/s; window drag w/ picture 30 fps ${(dragBps / 1024).toFixed(1)} KiB/s`,
    );
    console.log(
      `# encode ms/frame during drag: p50 ${percentile(dragEncode, 50).toFixed(2)} p95 ${percentile(dragEncode, 95).toFixed(2)} (n=${dragEncode.length})`,
    );
    console.log(
      `# input-to-paint latency (keydown -> painted, fake VM at 30 fps): p50 ${percentile(latencies, 50).toFixed(1)} ms p95 ${percentile(latencies, 95).toFixed(1)} ms (n=${latencies.length})`,
    );
    assert.ok(idleBps < 200, `idle ${idleBps} B/s`);
    assert.ok(latencies.length >= 25);

    mkdirSync(ARTIFACTS, { recursive: true });
    await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-connected.png') });

    // Shadowing: an admin view-only viewer; the user's viewer says it is watched.
    const shadow = await open('?mode=view&role=admin&name=Admin%20Grace&sub=admin-1');
    await waitState(shadow, 'connected');
    await a.waitForFunction(() =>
      document.querySelector('.rd-badge')?.textContent?.includes('Admin Grace'),
    );
    assert.match((await shadow.locator('.rd-badge').textContent()) ?? '', /View only/);
    const keysBefore = h.hv.keys.length;
    const charsBefore = h.hv.chars.length;
    await shadow.locator('canvas').click();
    await shadow.keyboard.type('nope');
    await sleep(300);
    assert.equal(h.hv.keys.length, keysBefore, 'shadow input never reaches the VM');
    assert.equal(h.hv.chars.length, charsBefore, 'shadow typing never reaches the VM');
    await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-watched.png') });

    // Takeover: a second browser context opens the same desktop.
    const b = await open('?name=Ada%20on%20laptop');
    await waitState(b, 'connected');
    await waitState(a, 'moved-elsewhere', 3000);
    await b.waitForFunction(() =>
      (window as unknown as { __paints: { full: boolean }[] }).__paints.some((p) => p.full),
    );
    assert.match((await a.locator('.rd-overlay').textContent()) ?? '', /opened elsewhere/i);
    assert.equal(await b.evaluate(PIXEL_SCRIPT, [10, 10]), 0x3a6ea5);
    await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-moved.png') });
    await sleep(500);
    assert.equal(await state(a), 'moved-elsewhere', 'the moved viewer does not fight back');

    // Network blip: drop B's transport; it reconnects with a fresh token and a full frame.
    const fullBefore = await b.evaluate(
      () =>
        (window as unknown as { __paints: { full: boolean }[] }).__paints.filter((p) => p.full)
          .length,
    );
    await b.evaluate(() =>
      (
        window as unknown as { __viewer: { socket: { io: { engine: { close(): void } } } } }
      ).__viewer.socket.io.engine.close(),
    );
    await b.waitForFunction(() =>
      (window as unknown as { __states: { state: string }[] }).__states.some(
        (s) => s.state === 'reconnecting',
      ),
    );
    await waitState(b, 'connected');
    await b.waitForFunction(
      (n) =>
        (window as unknown as { __paints: { full: boolean }[] }).__paints.filter((p) => p.full)
          .length > n,
      fullBefore,
    );
    const hash = await b.evaluate(CANVAS_HASH_SCRIPT);
    assert.ok(hash);
    assert.equal(await state(shadow), 'connected', 'the shadow stayed attached throughout');

    // Disconnect button.
    await b.getByRole('button', { name: 'Disconnect' }).click();
    await waitState(b, 'disconnected');
    await b.screenshot({ path: resolve(ARTIFACTS, 'viewer-disconnected.png') });
  },
);

test(
  'a dragged window arrives as copies, and the canvas shows the screen exactly',
  { skip: skip ?? false, timeout: 60_000 },
  async () => {
    const p = await open();
    await waitState(p, 'connected');
    const vm = h.hv.vms.get('vm-1')!;
    // A window with a fixed picture: every row differs, as a UI's do.
    const [ww, wh] = [260, 180];
    const picture = new Uint8Array(ww * wh * 4);
    for (let y = 0; y < wh; y++)
      for (let x = 0; x < ww; x++)
        picture.set([(x * 7 + y * 3) & 255, (x * y) & 255, (x ^ y) & 255, 255], (y * ww + x) * 4);
    const copyBytes = async () =>
      (await h.gateway.metrics.bytesSent.get()).values.find((v) => v.labels.encoding === 'copy')
        ?.value ?? 0;
    const copiesBefore = await copyBytes();
    for (let i = 0; i < 8; i++) {
      h.hv.fill(vm, 0, 0, vm.width, vm.height, [0x3a, 0x6e, 0xa5]);
      h.hv.blit(vm, 30 + i * 29, 30 + i * 17, ww, wh, picture);
      await sleep(120);
    }
    assert.ok((await copyBytes()) > copiesBefore, 'the gateway sent copies');
    // Once refined (lossy tiles are re-sent losslessly after 1 s), the canvas is the screen.
    const expected = Array.from(vm.data);
    await p.waitForFunction(
      (want) => {
        const c = document.querySelector('canvas')!;
        const got = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return false;
        return true;
      },
      expected,
      { timeout: 10_000, polling: 250 },
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await p.screenshot({ path: resolve(ARTIFACTS, 'viewer-after-drag.png') });
    await p.context().close();
  },
);
