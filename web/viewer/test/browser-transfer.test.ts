/// <reference lib="dom" />
// Clipboard and files end to end, as a user on another computer sees them: Chromium at
// http://vdi.example.test (mapped to 127.0.0.2) -> viewer -> gateway -> hypervisor -> a desktop
// VM resumed from its golden snapshot. Text with non-ASCII characters copied in the desktop
// reaches the browser's clipboard and the reverse; a dropped file lands in ~/Uploads with the
// same sha256; a file offered in ~/Send to browser downloads with the same bytes; oversize and
// bad names are refused in plain words. Timings are printed as diagnostics, never asserted.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  percentile,
  servePage,
  startTestGateway,
} from '../testing/browser-harness.ts';

const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');
const HOST_NAME = 'vdi.example.test';
const FROM_GUEST = 'Grüße aus dem Gast ✓ 日本語 😀';
const TO_GUEST = 'Ça va? Ω≈ç√ — from the browser 🚀';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** printf's octal escapes for UTF-8 text, so that the US key map can type any character. */
const octal = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((b) =>
      /[a-z0-9 ]/i.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `\\${b.toString(8).padStart(3, '0')}`,
    )
    .join('');

interface ViewerHandle {
  state: string;
  sendText(text: string): Promise<unknown>;
  transfer: {
    permissions: { clipboardToGuest: boolean; filesToGuest: boolean };
    desktopClipboard: string;
    request(event: string, payload: unknown): Promise<unknown>;
    syncToDesktop(): Promise<void>;
  };
}
declare const window: Window & { __viewer: ViewerHandle };

const typeLine = (page: Page, line: string) =>
  page.evaluate((l) => window.__viewer.sendText(`${l}\n`), line);

/**
 * Polls the page's clipboard until it holds `expected`; false after `timeoutMs`. Not
 * waitForFunction: it takes an async predicate's promise itself as the truthy answer.
 */
const browserClipboardBecomes = (page: Page, expected: string, timeoutMs: number) =>
  page.evaluate(
    async ({ text, ms }) => {
      const deadline = performance.now() + ms;
      while (performance.now() < deadline) {
        if ((await navigator.clipboard.readText().catch(() => '')) === text) return true;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return false;
    },
    { text: expected, ms: timeoutMs },
  );

test(
  'clipboard both ways and files in and out, in Chromium at a host name',
  { timeout: 900_000 },
  async (t) => {
    const noChromium = chromiumMissing();
    if (noChromium) throw new Error(noChromium);
    const hv = await startEphemeralHypervisor();
    const probe = new HypervisorClient({
      url: hv.url,
      secret: hv.config.secret,
      timeoutMs: 600_000,
    });
    await probe.connected();
    const vm = await probe.create({ appliance: 'desktop', name: 'e2e-transfer' });
    const { gateway, attachSecret, port: gatewayPort } = await startTestGateway(hv, '0.0.0.0');
    const server = await servePage({
      gatewayUrl: `http://${HOST_NAME}:${gatewayPort}`,
      vm: vm.id,
      attachSecret,
      bundle: await bundleViewer(),
      listen: { address: '0.0.0.0', hostName: HOST_NAME },
    });
    const origin = server.url;
    // Production serves the portal over HTTPS, where the Clipboard API exists; plain http at a
    // host name is not a secure context, so this test tells Chromium to treat it as one.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...CHROMIUM_ARGS,
        `--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.2`,
        `--unsafely-treat-insecure-origin-as-secure=${origin},http://${HOST_NAME}:${gatewayPort}`,
      ],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    try {
      const context = await browser.newContext({
        viewport: { width: 1200, height: 860 },
        permissions: ['clipboard-read', 'clipboard-write'],
        acceptDownloads: true,
      });
      const page = await context.newPage();
      // The guest keeps its screen size, so the agent's clipboard requests do not queue behind
      // a mode switch.
      await page.goto(`${origin}/?follow=off`);
      await page.waitForFunction(() => window.__viewer.state === 'connected', undefined, {
        timeout: 120_000,
      });
      await page.waitForFunction(
        () => window.__viewer.transfer.permissions.filesToGuest,
        undefined,
        {
          timeout: 30_000,
        },
      );
      await page.locator('canvas').click({ position: { x: 400, y: 300 } });

      // ---- Desktop -> browser: a copy in the desktop's terminal reaches the local clipboard.
      const copyStarted = Date.now();
      await typeLine(page, `printf '${octal(FROM_GUEST)}' | xclip -selection clipboard`);
      assert.ok(
        await browserClipboardBecomes(page, FROM_GUEST, 120_000),
        'the text copied in the desktop never reached the browser clipboard',
      );
      t.diagnostic(
        `desktop copy to browser clipboard: ${Date.now() - copyStarted} ms (typing included)`,
      );

      // ---- Browser -> desktop: text copied locally follows when the viewer gets focus.
      await page.evaluate((text) => navigator.clipboard.writeText(text), TO_GUEST);
      await page.evaluate(() => window.__viewer.transfer.syncToDesktop());
      assert.equal(await probe.call('clipboard:get', { id: vm.id }), TO_GUEST);
      assert.equal(
        await probe.call('clipboard:get', { id: vm.id, selection: 'primary' }),
        TO_GUEST,
      );

      // Round trip through every layer: set from the viewer, read back from the desktop.
      const roundTrips: number[] = [];
      for (let i = 0; i < 6; i++) {
        const text = `round trip ${i} ✓ ${randomBytes(4).toString('hex')}`;
        const ms = await page.evaluate(async (value) => {
          const started = performance.now();
          await window.__viewer.transfer.request('clipboard:set', { text: value });
          const got = (await window.__viewer.transfer.request('clipboard:get', {})) as {
            text: string;
          };
          if (got.text !== value) throw new Error(`read back ${got.text}`);
          return performance.now() - started;
        }, text);
        roundTrips.push(ms);
      }
      t.diagnostic(
        `clipboard round trip (set + get), n=${roundTrips.length}: p50 ${percentile(roundTrips, 50).toFixed(0)} ms, p95 ${percentile(roundTrips, 95).toFixed(0)} ms`,
      );

      // The clipboard panel shows the desktop's text (the fallback when the API is refused).
      await typeLine(page, `printf '${octal(FROM_GUEST)}' | xclip -selection clipboard`);
      await page.getByRole('button', { name: 'Clipboard' }).click();
      await page.waitForFunction(
        (expected) =>
          (document.querySelector('textarea[aria-label="Clipboard text"]') as HTMLTextAreaElement)
            .value === expected,
        FROM_GUEST,
        { timeout: 60_000 },
      );
      await page.screenshot({ path: resolve(ARTIFACTS, 'viewer-clipboard-panel.png') });
      await page.getByRole('button', { name: 'Close' }).first().click();

      // ---- Files in: a file dropped on the screen lands in ~/Uploads with the same sha256.
      const dropped = randomBytes(100 * 1024);
      await page.evaluate(
        ({ name, base64 }) => {
          const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name));
          const screen = document.querySelector('.rd-screen')!;
          screen.dispatchEvent(
            new DragEvent('dragover', { dataTransfer: transfer, cancelable: true }),
          );
          screen.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, cancelable: true }));
        },
        { name: 'déposé.bin', base64: dropped.toString('base64') },
      );
      const droppedRow = page.getByRole('group', { name: 'Upload déposé.bin' });
      await droppedRow.and(page.locator('[data-state=done]')).waitFor({ timeout: 180_000 });
      assert.equal(await droppedRow.getAttribute('data-sha256'), sha256(dropped));
      assert.match((await droppedRow.textContent()) ?? '', /Saved as ~\/Uploads\/déposé\.bin/);

      // Picked from the toolbar: timed for throughput, then offered back and downloaded.
      const picked = randomBytes(512 * 1024);
      const upStarted = Date.now();
      await page.locator('input[type=file]').setInputFiles({
        name: 'picked.bin',
        mimeType: 'application/octet-stream',
        buffer: picked,
      });
      const pickedRow = page.getByRole('group', { name: 'Upload picked.bin' });
      await pickedRow.and(page.locator('[data-state=done]')).waitFor({ timeout: 300_000 });
      const upMs = Date.now() - upStarted;
      assert.equal(await pickedRow.getAttribute('data-sha256'), sha256(picked));
      t.diagnostic(
        `upload ${picked.length} bytes: ${upMs} ms, ${((picked.length / 1024 / upMs) * 1000).toFixed(0)} KiB/s`,
      );

      // ---- Refusals, in plain words.
      await page.evaluate(() => {
        const input = document.querySelector('input[type=file]') as HTMLInputElement;
        const transfer = new DataTransfer();
        transfer.items.add(new File(['x'], 'evil/../name.txt'));
        input.files = transfer.files;
        input.dispatchEvent(new Event('change'));
      });
      const badRow = page.getByRole('group', { name: 'Upload evil/../name.txt' });
      await badRow.and(page.locator('[data-state=error]')).waitFor({ timeout: 30_000 });
      assert.match((await badRow.textContent()) ?? '', /contains "\/" or "\\"/);
      const oversize = await page.evaluate(async () => {
        try {
          await window.__viewer.transfer.request('files:upload-begin', {
            name: 'huge.iso',
            bytes: 2 ** 30,
          });
          return 'accepted';
        } catch (error) {
          return (error as Error).message;
        }
      });
      assert.match(oversize, /files are limited to 64 MiB/);

      // ---- Files out: the user puts a file in ~/Send to browser; it is listed and downloads.
      await typeLine(page, 'cp ~/Uploads/picked.bin ~/Send\\ to\\ browser/offered.bin');
      await page.getByRole('button', { name: 'Files (1)' }).waitFor({ timeout: 60_000 });
      await page.screenshot({ path: resolve(ARTIFACTS, 'viewer-files-panel.png') });
      const downStarted = Date.now();
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 300_000 }),
        page.getByRole('button', { name: 'Download offered.bin' }).click(),
      ]);
      const path = await download.path();
      const downMs = Date.now() - downStarted;
      assert.equal(download.suggestedFilename(), 'offered.bin');
      assert.equal(sha256(readFileSync(path)), sha256(picked));
      t.diagnostic(
        `download ${picked.length} bytes: ${downMs} ms, ${((picked.length / 1024 / downMs) * 1000).toFixed(0)} KiB/s`,
      );
      await page.screenshot({ path: resolve(ARTIFACTS, 'viewer-files-panel-done.png') });
      await context.close();
    } finally {
      await browser.close();
      await server.close();
      await gateway.close();
      probe.close();
      await hv.close();
    }
  },
);
