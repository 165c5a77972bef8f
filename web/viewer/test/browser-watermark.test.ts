/// <reference lib="dom" />
// The watermark end to end: headless Chromium reaches the page and the gateway as another
// computer would (vdi.example.test -> 127.0.0.2); one viewer's policy asks for a watermark, a
// second viewer of the same desktop has none. The watermarked canvas differs from the other one
// exactly in the faint pattern the gateway renders for that user, minute and address, and taking
// the page apart (DOM and CSS) leaves it there: it is in the pixels the gateway sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  servePage,
  startTestGateway,
} from '../testing/browser-harness.ts';

const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');
const HOST_NAME = 'vdi.example.test';
const EMAIL = 'ada.lovelace@example.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The canvas's RGBA pixels, as base64 (a plain array of 3 M numbers is slow to pass). */
const CANVAS_PIXELS_SCRIPT = () => {
  const c = document.querySelector('canvas[aria-label="Remote desktop"]') as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let binary = '';
  for (let i = 0; i < d.length; i += 0x8000) {
    binary += String.fromCharCode(...d.subarray(i, i + 0x8000));
  }
  return { width: c.width, height: c.height, rgba: btoa(binary) };
};

async function canvasPixels(page: Page) {
  const { width, height, rgba } = await page.evaluate(CANVAS_PIXELS_SCRIPT);
  return { width, height, rgba: Buffer.from(rgba, 'base64') };
}

interface Mark {
  mask: Uint8Array;
  width: number;
  height: number;
}

/** How two canvases differ, measured against the watermark's pattern. */
function compare(marked: Buffer, plain: Buffer, width: number, height: number, mark: Mark) {
  const s = { differing: 0, differingOffInk: 0, fullInk: 0, fullInkDiffering: 0, maxShift: 0 };
  const strongest = mark.mask.reduce((a, b) => Math.max(a, b), 0);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const shift = Math.max(
        Math.abs(marked[o]! - plain[o]!),
        Math.abs(marked[o + 1]! - plain[o + 1]!),
        Math.abs(marked[o + 2]! - plain[o + 2]!),
      );
      const ink = mark.mask[(y % mark.height) * mark.width + (x % mark.width)]!;
      if (shift > 0) {
        s.differing++;
        if (ink === 0) s.differingOffInk++;
        else s.maxShift = Math.max(s.maxShift, shift);
      }
      if (ink === strongest) {
        s.fullInk++;
        if (shift > 0) s.fullInkDiffering++;
      }
    }
  }
  return {
    ...s,
    /** Share of differing pixels where the pattern has no ink: near 0 for the watermark alone. */
    offInkShare: s.differingOffInk / Math.max(1, s.differing),
    /** Share of fully inked pixels that differ: near 1. */
    inkCoverage: s.fullInkDiffering / Math.max(1, s.fullInk),
  };
}

test(
  'Chromium: the watermark is in the pixels the gateway sends, and editing the page does not remove it',
  { timeout: 600_000 },
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
    const vm = await probe.create({ appliance: 'desktop', name: 'e2e-watermark' });
    await hv.host.get(vm.id).guestRefreshed;

    const { gateway, attachSecret, url: gatewayUrl } = await startTestGateway(hv, '0.0.0.0');
    const server = await servePage({
      gatewayUrl: `http://${HOST_NAME}:${new URL(gatewayUrl).port}`,
      vm: vm.id,
      attachSecret,
      bundle: await bundleViewer(),
      listen: { address: '0.0.0.0', hostName: HOST_NAME },
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.2`],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    const open = async (query: string) => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/?follow=off&${query}`);
      await page
        .waitForFunction(
          () =>
            (window as unknown as { __viewer: { state: string } }).__viewer.state === 'connected',
          undefined,
          { timeout: 120_000 },
        )
        .catch(async (error: unknown) => {
          const states = await page.evaluate(
            () => (window as unknown as { __states: [] }).__states,
          );
          throw new Error(`not connected: ${JSON.stringify(states)}`, { cause: error });
        });
      await page.waitForFunction(
        () => (window as unknown as { __paints: unknown[] }).__paints.length > 0,
        undefined,
        { timeout: 60_000 },
      );
      return page;
    };
    try {
      const policy = encodeURIComponent(JSON.stringify({ watermark: true }));
      const marked = await open(`sub=ada&name=Ada&email=${EMAIL}&policy=${policy}`);
      const plain = await open('sub=admin&name=Admin&role=admin&mode=view');
      const session = gateway.sessions.forVm(vm.id).find((s) => s.watermark);
      assert.ok(session, 'the watermarked session is there');
      assert.equal(gateway.sessions.forVm(vm.id).filter((s) => s.watermark).length, 1);
      assert.equal(session.watermark!.lines[0], EMAIL);
      const address = session.socket.handshake.address.replace(/^::ffff:/, '');
      assert.match(address, /^127\./, 'Chromium came over loopback (vdi.example.test)');
      assert.ok(
        session.watermark!.lines[1]!.endsWith(` UTC · ${address}`),
        `the minute and the address the gateway sees: ${session.watermark!.lines[1]}`,
      );

      // Both canvases show the same desktop once it is quiet; compare them against the pattern
      // of the watermark the session carried while they were read.
      const measure = async () => {
        for (let attempt = 0; ; attempt++) {
          await sleep(2000);
          const before = session.watermark!;
          const [a, b] = [await canvasPixels(marked), await canvasPixels(plain)];
          if (session.watermark !== before) continue; // the minute moved on meanwhile
          assert.equal(a.width, b.width);
          const result = compare(a.rgba, b.rgba, a.width, a.height, before);
          if ((result.offInkShare < 0.02 && result.inkCoverage > 0.9) || attempt >= 20) {
            return result;
          }
        }
      };
      const seen = await measure();
      assert.ok(seen.inkCoverage > 0.9, `inked pixels differ: ${JSON.stringify(seen)}`);
      assert.ok(seen.offInkShare < 0.02, `differences lie in the pattern: ${JSON.stringify(seen)}`);
      assert.ok(seen.maxShift <= 64, `faint: at most ${seen.maxShift} levels`);
      await marked.screenshot({ path: resolve(ARTIFACTS, 'viewer-watermark.png') });
      await plain.screenshot({ path: resolve(ARTIFACTS, 'viewer-watermark-plain.png') });

      // Take the page apart: every element but the canvas gone, the stylesheets replaced by
      // rules that would undo any overlay or filter. The pattern stays.
      await marked.evaluate(() => {
        const canvas = document.querySelector('canvas[aria-label="Remote desktop"]')!;
        for (const el of [...document.body.querySelectorAll('*')]) {
          if (el !== canvas && !el.contains(canvas)) el.remove();
        }
        for (const sheet of [...document.querySelectorAll('style, link[rel="stylesheet"]')]) {
          sheet.remove();
        }
        const style = document.createElement('style');
        style.textContent =
          '*{filter:none!important;opacity:1!important;mix-blend-mode:normal!important;' +
          'background-image:none!important}canvas{position:fixed!important;inset:0!important}';
        document.head.append(style);
      });
      const edited = await measure();
      assert.ok(edited.inkCoverage > 0.9, `still there: ${JSON.stringify(edited)}`);
      assert.ok(edited.offInkShare < 0.02, `still the pattern: ${JSON.stringify(edited)}`);
      await marked.screenshot({ path: resolve(ARTIFACTS, 'viewer-watermark-edited.png') });
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
