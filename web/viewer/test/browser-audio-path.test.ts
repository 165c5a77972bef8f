/// <reference lib="dom" />
// The sound path from the gateway on, in headless Chromium: the harness's hypervisor stand-in
// (gateway/testing) sends a 440 Hz tone as the real host does (libopus packets of
// AUDIO_FORMAT in `audio:chunk`); the gateway relays it only to viewers that listen; the
// viewer decodes it with WebCodecs and plays it. Checks the pitch of the page's decoded
// samples, that mute ends the listen at the host and the chunks, and measures transit and
// bandwidth. browser-audio.test.ts does the same with a real guest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { SECRETS, sleep, startHarness, type Harness } from '@raydesk/gateway/testing';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  dominantFrequency,
  percentile,
  servePage,
  type TestPageServer,
} from '../testing/browser-harness.ts';

const skip = chromiumMissing();
const ARTIFACTS = resolve(REPO_ROOT, 'artifacts');

interface AudioBlock {
  at: number;
  rate: number;
  transitMs: number;
  samples: number[];
}
type AudioWindow = {
  __audio: AudioBlock[];
  __viewer: { state: string; audio: { state: string; stats: { chunks: number; bytes: number } } };
};

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
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await page?.close();
  await h?.close();
});

const audioState = (p: Page) =>
  p.evaluate(() => (window as unknown as AudioWindow).__viewer.audio.state);
const chunks = (p: Page) =>
  p.evaluate(() => (window as unknown as AudioWindow).__viewer.audio.stats.chunks);

test(
  'Chromium plays a 440 Hz tone relayed by the gateway; mute stops the chunks at the host',
  { skip: skip ?? false, timeout: 120_000 },
  async (t) => {
    const p = await (
      await browser.newContext({ viewport: { width: 1000, height: 640 } })
    ).newPage();
    p.on('pageerror', (e) => console.log('# page error:', e.message));
    await p.goto(page.url);
    await p.waitForFunction(
      () => (window as unknown as AudioWindow).__viewer.state === 'connected',
    );
    await p.waitForFunction(() => (window as unknown as AudioWindow).__viewer.audio.state === 'on');
    const vm = h.hv.vms.get('vm-1')!;
    // The viewer's listen reaches the host through the gateway.
    const deadline = Date.now() + 5000;
    while (vm.listeners.size === 0 && Date.now() < deadline) await sleep(20);
    assert.equal(vm.listeners.size, 1, 'the gateway listens on the host');
    mkdirSync(ARTIFACTS, { recursive: true });
    await p.screenshot({ path: resolve(ARTIFACTS, 'viewer-sound-on.png') });

    const started = Date.now();
    await h.hv.playTone('vm-1', 440, 2000);
    const elapsedS = (Date.now() - started) / 1000;
    await sleep(300);
    const blocks = await p.evaluate(() => (window as unknown as AudioWindow).__audio);
    const rate = blocks[0]!.rate;
    const samples = blocks.flatMap((b) => b.samples);
    // 2 s of sound came through, whole (each packet decoded to 20 ms).
    assert.ok(
      Math.abs(samples.length - 2 * rate) <= rate / 10,
      `${samples.length} samples at ${rate} Hz`,
    );
    const hz = dominantFrequency(samples.slice(rate / 10, rate), rate);
    assert.ok(Math.abs(hz - 440) <= 10, `DFT peak at ${hz} Hz`);
    const stats = await p.evaluate(() => ({
      ...(window as unknown as AudioWindow).__viewer.audio.stats,
    }));
    const transit = blocks.map((b) => b.transitMs);
    t.diagnostic(
      `tone via gateway: ${hz} Hz; transit host->page decoded n=${transit.length} ` +
        `p50 ${percentile(transit, 50)} ms p95 ${percentile(transit, 95)} ms; ` +
        `Opus payload ${((stats.bytes * 8) / elapsedS / 1000).toFixed(1)} kbit/s ` +
        `(${stats.chunks} chunks); load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );

    // Mute: the button says so, the gateway drops its listen, no chunk reaches the page.
    await p.locator('button.rd-sound').click();
    assert.equal(await audioState(p), 'muted');
    assert.equal(await p.locator('button.rd-sound').getAttribute('aria-pressed'), 'false');
    while (vm.listeners.size > 0 && Date.now() < deadline + 10_000) await sleep(20);
    assert.equal(vm.listeners.size, 0, 'the host is no longer asked for sound');
    await p.screenshot({ path: resolve(ARTIFACTS, 'viewer-sound-muted.png') });
    const mutedChunks = await chunks(p);
    await h.hv.playTone('vm-1', 440, 600);
    await sleep(200);
    assert.equal(await chunks(p), mutedChunks, 'no audio while muted');

    // Sound on again: chunks come back.
    await p.locator('button.rd-sound').click();
    while (vm.listeners.size === 0 && Date.now() < deadline + 20_000) await sleep(20);
    await h.hv.playTone('vm-1', 440, 400);
    await sleep(200);
    assert.ok((await chunks(p)) > mutedChunks, 'sound is back after unmuting');
  },
);
