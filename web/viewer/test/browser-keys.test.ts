/// <reference lib="dom" />
// Characters, layouts, touch and crisp scaling end to end: headless Chromium reaches the page and
// the gateway as another computer would (vdi.example.test -> 127.0.0.2), the viewer sends what
// Playwright types, the real hypervisor types it on a German desktop, a terminal writes it to a
// file, and the file comes back from the guest through a port forward (busybox nc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  PIXEL_SCRIPT,
  bundleViewer,
  chromiumMissing,
  servePage,
  startTestGateway,
} from '../testing/browser-harness.ts';

const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');
const HOST_NAME = 'vdi.example.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects, half-closes at once and returns what the guest sent until it closed. */
function fetchOnce(port: number): Promise<Buffer> {
  return new Promise((resolveBytes, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolveBytes(Buffer.concat(chunks)));
  });
}

test(
  'Chromium: a German desktop gets @ and ä, keyboard.type arrives intact, a tap clicks, DPR 2 is crisp',
  { timeout: 900_000 },
  async () => {
    const noChromium = chromiumMissing();
    if (noChromium) throw new Error(noChromium);
    const hv = await startEphemeralHypervisor();
    const probe = new HypervisorClient({
      url: hv.url,
      secret: hv.config.secret,
      timeoutMs: 600_000,
    });
    await probe.connected();
    const vm = await probe.create({ appliance: 'desktop', name: 'e2e-keys' });
    await hv.host.get(vm.id).guestRefreshed;
    assert.equal(await probe.setKeyboardLayout(vm.id, 'de'), 'de');

    const { gateway, attachSecret, url: gatewayUrl } = await startTestGateway(hv, '0.0.0.0');
    const gatewayPort = new URL(gatewayUrl).port;
    const server = await servePage({
      gatewayUrl: `http://${HOST_NAME}:${gatewayPort}`,
      vm: vm.id,
      attachSecret,
      bundle: await bundleViewer(),
      listen: { address: '0.0.0.0', hostName: HOST_NAME },
    });
    const pageUrl = `${server.url}/`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.2`],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    const waitConnected = async (p: Page) => {
      await p.waitForFunction(
        () => (window as unknown as { __viewer: { state: string } }).__viewer.state === 'connected',
        undefined,
        { timeout: 60_000 },
      );
      await p.waitForFunction(
        () => (window as unknown as { __paints: unknown[] }).__paints.length > 0,
        undefined,
        { timeout: 60_000 },
      );
    };
    try {
      // ---- Device pixel ratio 2: whole device pixels per guest pixel, drawn pixelated.
      const ctx = await browser.newContext({
        viewport: { width: 1100, height: 860 },
        deviceScaleFactor: 2,
      });
      const a = await ctx.newPage();
      await a.goto(pageUrl);
      await waitConnected(a);
      const scaling = await a.evaluate(() => {
        const c = document.querySelector(
          'canvas[aria-label="Remote desktop"]',
        ) as HTMLCanvasElement;
        const box = c.getBoundingClientRect();
        return {
          deviceWidth: box.width * devicePixelRatio,
          deviceHeight: box.height * devicePixelRatio,
          width: c.width,
          height: c.height,
          rendering: c.style.imageRendering,
          dpr: devicePixelRatio,
        };
      });
      assert.equal(scaling.dpr, 2);
      const perPixel = scaling.deviceWidth / scaling.width;
      assert.ok(Number.isInteger(perPixel) && perPixel >= 1, `device px per guest px ${perPixel}`);
      assert.equal(scaling.deviceHeight / scaling.height, perPixel);
      assert.equal(scaling.rendering, 'pixelated');
      await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-keys-dpr2.png') });

      // ---- keyboard.type into a terminal on the German layout, read back from the guest.
      const box = (await a.locator('canvas').boundingBox())!;
      const scale = box.width / scaling.width;
      // Click into the terminal (its body is light, near the top left of the desktop).
      await a.mouse.click(box.x + 300 * scale, box.y + 300 * scale);
      const guestPort = 7201;
      const line = 'Tschüß > W|o&rld @ äÄ Zy ~';
      await a.keyboard.type(`cat > /tmp/typed.txt\n`, { delay: 30 });
      await a.keyboard.type(`${line}\n`, { delay: 30 });
      await a.keyboard.press('Control+KeyD');
      await a.keyboard.type(`nc -l -p ${guestPort} < /tmp/typed.txt\n`, { delay: 30 });
      const forward = await probe.forward({ id: vm.id, guestPort });
      let typed = '';
      const deadline = Date.now() + 180_000;
      while (!typed) {
        const bytes = await fetchOnce(forward.listen.port).catch(() => Buffer.alloc(0));
        typed = bytes.toString('utf8');
        if (!typed) {
          // What the terminal shows tells a lost key from a slow guest.
          if (Date.now() >= deadline) {
            await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-keys-not-typed.png') });
          }
          assert.ok(Date.now() < deadline, 'the typed file came back from the guest');
          await sleep(1000);
        }
      }
      await probe.unforward(vm.id, { port: forward.listen.port });
      await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-keys-typed.png') });
      assert.equal(typed, `${line}\n`, 'the line arrived as typed');

      // ---- A tap is a click: tapping the desktop background opens JWM's root menu there.
      const touch = await browser.newContext({
        viewport: { width: 1100, height: 860 },
        hasTouch: true,
      });
      const b = await touch.newPage();
      await b.goto(`${pageUrl}?name=Tablet`);
      await waitConnected(b);
      assert.equal(
        await b.getByRole('button', { name: 'Keyboard' }).isVisible(),
        true,
        'a touch device gets the on-screen keyboard button',
      );
      const tbox = (await b.locator('canvas').boundingBox())!;
      const tscale = tbox.width / scaling.width;
      const [gx, gy] = [900, 150];
      const background = await b.evaluate(PIXEL_SCRIPT, [gx + 40, gy + 30]);
      await b.touchscreen.tap(tbox.x + gx * tscale, tbox.y + gy * tscale);
      await b.waitForFunction(
        ([x, y, bg]) => {
          const c = document.querySelector(
            'canvas[aria-label="Remote desktop"]',
          ) as HTMLCanvasElement;
          const d = c.getContext('2d')!.getImageData(x!, y!, 1, 1).data;
          return ((d[0]! << 16) | (d[1]! << 8) | d[2]!) !== bg;
        },
        [gx + 40, gy + 30, background],
        { timeout: 60_000 },
      );
      await b.screenshot({ path: resolve(ARTIFACTS, 'viewer-keys-tap-menu.png') });
      await b.keyboard.press('Escape');
    } finally {
      await browser.close();
      await server.close();
      await gateway.close();
      await probe.destroy(vm.id).catch(() => undefined);
      probe.close();
      await hv.close();
    }
  },
);
