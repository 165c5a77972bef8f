/// <reference lib="dom" />
// End to end with a real hypervisor: headless Chromium -> viewer -> gateway -> hypervisor (both
// in this process, on loopback) -> a desktop VM resumed from the golden snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import { createGateway } from '@raydesk/gateway/server';
import {
  CANVAS_HASH_SCRIPT,
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  percentile,
  servePage,
} from '../testing/browser-harness.ts';

const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');

test(
  'real hypervisor: Chromium views a VM, typing changes the canvas, a window drag, AltGr, takeover',
  { timeout: 400_000 },
  async () => {
    const noChromium = chromiumMissing();
    if (noChromium) throw new Error(noChromium);
    // A real hypervisor in this process, with a desktop VM resumed from its golden snapshot.
    const hv = await startEphemeralHypervisor();
    const hvUrl = hv.url;
    const hvSecret = hv.config.secret;
    const probe = new HypervisorClient({ url: hvUrl, secret: hvSecret, timeoutMs: 600_000 });
    await probe.connected();
    const vm = await probe.create({ appliance: 'desktop', name: 'e2e-gateway' });
    const attachSecret = randomBytes(32).toString('hex');
    const gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: randomBytes(16).toString('hex'),
        attachTokenSecret: attachSecret,
        hypervisorUrl: hvUrl,
        hypervisorSecret: hvSecret,
        portalInternalUrl: null,
        allowedOrigins: [],
        logLevel: 'silent',
      },
      logger: pino({ level: 'silent' }),
    });
    const { url } = await gateway.listen(0, '127.0.0.1');
    const server = await servePage({
      gatewayUrl: url,
      vm: vm.id,
      attachSecret,
      bundle: await bundleViewer(),
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const open = async (q = '') => {
        const ctx = await browser.newContext({ viewport: { width: 1100, height: 860 } });
        const p = await ctx.newPage();
        await p.goto(`${server.url}/${q}`);
        return p;
      };
      const waitState = (p: Page, s: string, timeout = 20_000) =>
        p.waitForFunction(
          (w) => (window as unknown as { __viewer: { state: string } }).__viewer.state === w,
          s,
          { timeout },
        );
      const bytes = (p: Page) =>
        p.evaluate(
          () =>
            (window as unknown as { __viewer: { stats: { bytes: number } } }).__viewer.stats.bytes,
        );

      const a = await open();
      await waitState(a, 'connected', 30_000);
      await a.waitForFunction(
        () => (window as unknown as { __paints: unknown[] }).__paints.length > 0,
        undefined,
        { timeout: 20_000 },
      );
      // The canvas shows the VM: it is its size and not one flat colour.
      const colours = await a.evaluate(() => {
        const c = document.querySelector(
          'canvas[aria-label="Remote desktop"]',
        ) as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length; i += 4 * 97)
          seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        return { n: seen.size, w: c.width, h: c.height };
      });
      assert.ok(colours.n > 1, 'the canvas shows more than one colour');
      mkdirSync(ARTIFACTS, { recursive: true });
      await a.screenshot({ path: resolve(ARTIFACTS, `viewer-real-${vm.appliance}.png`) });

      // Idle bandwidth.
      await new Promise((r) => setTimeout(r, 1500));
      let b0 = await bytes(a);
      await new Promise((r) => setTimeout(r, 3000));
      const idleBps = ((await bytes(a)) - b0) / 3;

      // Typing changes the painted canvas; latency keydown -> next paint.
      await a.locator('canvas').click();
      const before = await a.evaluate(CANVAS_HASH_SCRIPT);
      b0 = await bytes(a);
      const t0 = Date.now();
      await a.keyboard.type('echo raydesk', { delay: 100 });
      await a.waitForFunction(
        (h0) => {
          const c = document.querySelector('canvas')!;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let h = 2166136261;
          for (let i = 0; i < d.length; i += 7) h = Math.imul(h ^ d[i]!, 16777619);
          return h >>> 0 !== h0;
        },
        before,
        { timeout: 15_000 },
      );
      const typingBps = ((await bytes(a)) - b0) / ((Date.now() - t0) / 1000);
      const latencies: number[] = [];
      for (let i = 0; i < 12; i++) {
        const code = i % 2 ? 'Backspace' : 'KeyX';
        const lat = await a.evaluate(async (c) => {
          const w = window as unknown as { __paints: { at: number }[] };
          const n = w.__paints.length;
          const start = performance.now();
          const target = document.querySelector('canvas')!;
          target.dispatchEvent(new KeyboardEvent('keydown', { code: c, bubbles: true }));
          target.dispatchEvent(new KeyboardEvent('keyup', { code: c, bubbles: true }));
          while (w.__paints.length === n) {
            if (performance.now() - start > 5000) return -1;
            await new Promise((r) => setTimeout(r, 1));
          }
          return w.__paints[n]!.at - start;
        }, code);
        if (lat >= 0) latencies.push(lat);
        await new Promise((r) => setTimeout(r, 250));
      }
      await a.keyboard.press('Enter');
      await new Promise((r) => setTimeout(r, 1500));
      await a.screenshot({ path: resolve(ARTIFACTS, `viewer-real-${vm.appliance}-typed.png`) });
      console.log(
        `# real ${vm.appliance} VM ${vm.id} ${colours.w}x${colours.h}: idle ${idleBps.toFixed(0)} B/s, typing ${(typingBps / 1024).toFixed(1)} KiB/s, input-to-paint p50 ${percentile(latencies, 50).toFixed(0)} ms p95 ${percentile(latencies, 95).toFixed(0)} ms (n=${latencies.length})`,
      );

      // A window drag through the viewer, watched by a view-only shadow: the xterm follows the
      // pointer, and the two viewers share the PNG/JPEG encoding of the frames.
      const shadow = await open('?mode=view&role=admin&name=Shadow&sub=admin-1');
      await waitState(shadow, 'connected', 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      const regionCounts = async () => {
        const { values } = await gateway.metrics.regions.get();
        const count = (o: string) => values.find((v) => v.labels.outcome === o)?.value ?? 0;
        return { encoded: count('encoded'), reused: count('reused') };
      };
      // JWM's active title bar (#2a6fdb) is the topmost long run of that colour in the canvas;
      // returns its left/top in guest pixels and a page point on it.
      const titleBar = () =>
        a.evaluate(() => {
          const c = document.querySelector(
            'canvas[aria-label="Remote desktop"]',
          ) as HTMLCanvasElement;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          const box = c.getBoundingClientRect();
          for (let y = 0; y < Math.min(c.height, 730); y++) {
            let run = 0;
            for (let x = 0; x < c.width; x++) {
              const i = (y * c.width + x) * 4;
              run = d[i] === 0x2a && d[i + 1] === 0x6f && d[i + 2] === 0xdb ? run + 1 : 0;
              if (run === 200) {
                const left = x - 199;
                const scale = box.width / c.width;
                return {
                  left,
                  top: y,
                  pageX: box.left + (left + 120) * scale,
                  pageY: box.top + (y + 12) * scale,
                  scale,
                };
              }
            }
          }
          return null;
        });
      const grab = await titleBar();
      assert.ok(grab, 'the terminal title bar is on the canvas');
      const [dx, dy] = [150, 100];
      const followed = (bar: { left: number; top: number } | null) =>
        bar !== null &&
        Math.abs(bar.left - grab.left - dx) <= 12 &&
        Math.abs(bar.top - grab.top - dy) <= 12;
      const regions0 = await regionCounts();
      const dragStart = Date.now();
      await a.mouse.move(grab.pageX, grab.pageY);
      await a.mouse.down();
      for (let i = 1; i <= 10; i++) {
        await a.mouse.move(
          grab.pageX + (dx * grab.scale * i) / 10,
          grab.pageY + (dy * grab.scale * i) / 10,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
      // Hold near the end point with a one-pixel jitter, as a hand does, until the loaded guest
      // has moved the window.
      let bar = await titleBar();
      for (let jitter = 1; !followed(bar) && Date.now() - dragStart < 90_000; jitter = 1 - jitter) {
        await a.mouse.move(grab.pageX + (dx + jitter) * grab.scale, grab.pageY + dy * grab.scale);
        await new Promise((r) => setTimeout(r, 500));
        bar = await titleBar();
      }
      await a.mouse.up();
      const regions1 = await regionCounts();
      const encoded = regions1.encoded - regions0.encoded;
      const reused = regions1.reused - regions0.reused;
      console.log(
        `# drag through the viewer: title bar ${grab.left},${grab.top} -> ${bar?.left},${bar?.top} in ${Date.now() - dragStart} ms; two viewers: ${encoded} regions encoded, ${reused} reused`,
      );
      if (!followed(bar)) {
        // Say where the drag stopped: the viewer, the gateway's input path, or the guest.
        const viewer = await a.evaluate(() => {
          const v = (window as unknown as { __viewer: { state: string; stats: object } }).__viewer;
          return { state: v.state, stats: v.stats };
        });
        const inputs = (await gateway.metrics.inputEvents.get()).values.map(
          (v) => `${String(v.labels.kind)}=${v.value}`,
        );
        const info = await probe.get(vm.id);
        const hash0 = await a.evaluate(CANVAS_HASH_SCRIPT);
        await a.keyboard.type('x');
        await new Promise((r) => setTimeout(r, 3000));
        const keyPainted = (await a.evaluate(CANVAS_HASH_SCRIPT)) !== hash0;
        await a.screenshot({ path: resolve(ARTIFACTS, 'viewer-real-drag-failed.png') });
        console.log(
          `# drag failed: viewer ${JSON.stringify(viewer)}; gateway inputs ${inputs.join(' ')}; vm ${info.state} guestReady=${String(info.guestReady)}; a key then changed the canvas: ${keyPainted}`,
        );
      }
      assert.ok(followed(bar), 'the window followed the drag');
      assert.ok(reused > 0 && reused >= encoded / 2, 'the shadow viewer reused most encodings');
      await shadow.context().close();

      // AltGr through Chromium, the viewer and the gateway: with the guest's X layout set to
      // German, AltRight+Q must print the same glyphs as Shift+2 under the US layout (@).
      const terminalLines = () =>
        a.evaluate(() => {
          const c = document.querySelector(
            'canvas[aria-label="Remote desktop"]',
          ) as HTMLCanvasElement;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          // (No helper functions in here: tsx would wrap them in a __name the page lacks.)
          let top = -1;
          let left = 0;
          for (let y = 0; y < Math.min(c.height, 730) && top < 0; y++) {
            let run = 0;
            for (let x = 0; x < c.width; x++) {
              const i = (y * c.width + x) * 4;
              run = d[i] === 0x2a && d[i + 1] === 0x6f && d[i + 2] === 0xdb ? run + 1 : 0;
              const j = i + 18 * c.width * 4;
              if (run === 200 && d[j] === 0x2a && d[j + 1] === 0x6f && d[j + 2] === 0xdb) {
                [top, left] = [y, x - 199];
                break;
              }
            }
          }
          if (top < 0) return [];
          // Lines of dark text below the 26 px title bar, as dark/light bitmaps of 300 columns.
          const lines: string[] = [];
          let current = '';
          for (let y = top + 28; y < Math.min(c.height, 730, top + 500); y++) {
            let row = '';
            for (let x = left + 4; x < Math.min(c.width, left + 304); x++) {
              const i = (y * c.width + x) * 4;
              row += d[i]! < 100 && d[i + 1]! < 100 && d[i + 2]! < 100 ? '1' : '0';
            }
            if (row.includes('1')) current += row;
            else if (current) {
              lines.push(current);
              current = '';
            }
          }
          if (current) lines.push(current);
          return lines;
        });
      const waitLines = async (what: string, done: (lines: string[]) => boolean) => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          await new Promise((r) => setTimeout(r, 300));
          if (done(await terminalLines())) {
            await new Promise((r) => setTimeout(r, 500));
            return terminalLines();
          }
          assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
        }
      };
      // Playwright does not hold Shift for shifted characters: chords are spelled out.
      const chord = async (modifier: string, key: string) => {
        await a.keyboard.down(modifier);
        await a.keyboard.press(key);
        await a.keyboard.up(modifier);
      };
      await a.focus('canvas[aria-label="Remote desktop"]');
      await a.keyboard.type('clear\n', { delay: 50 });
      await waitLines('a cleared terminal', (lines) => lines.length === 1);
      await a.keyboard.type('echo ', { delay: 50 });
      for (let i = 0; i < 8; i++) await chord('ShiftLeft', 'Digit2');
      await a.keyboard.press('Enter');
      const reference = (await waitLines('the US @ line', (lines) => lines.length >= 3))[1];
      // setxkbmap compiles a keymap, many seconds in the emulated guest; the terminal clears
      // when it is done, and nothing is typed meanwhile.
      await a.keyboard.type('setxkbmap de ', { delay: 50 });
      await chord('ShiftLeft', 'Digit7');
      await chord('ShiftLeft', 'Digit7');
      await a.keyboard.type(' clear\n', { delay: 50 });
      await waitLines('the German layout', (lines) => lines.length === 1);
      await a.keyboard.type('echo ', { delay: 50 });
      for (let i = 0; i < 8; i++) await chord('AltRight', 'KeyQ');
      await a.keyboard.press('Enter');
      const altGr = (await waitLines('the AltGr line', (lines) => lines.length >= 3))[1];
      await a.keyboard.type('setxkbmap us\n', { delay: 50 });
      assert.equal(altGr, reference, 'AltRight+Q under the German layout printed @');

      // Takeover by a second browser context.
      const b = await open('?name=Second%20browser');
      await waitState(b, 'connected', 30_000);
      await waitState(a, 'moved-elsewhere', 5000);
      await b.waitForFunction(
        () => (window as unknown as { __paints: { full: boolean }[] }).__paints.some((p) => p.full),
        undefined,
        { timeout: 20_000 },
      );
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
