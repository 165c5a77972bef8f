/// <reference lib="dom" />
// Sound end to end: a desktop VM (real guest, SB16 driver) plays a 440 Hz tone; the worker
// encodes Opus; hypervisor -> gateway -> socket.io -> headless Chromium, where the viewer decodes
// it with WebCodecs and plays it through Web Audio. The page's decoded samples must hold the
// tone; the toolbar's mute stops the chunks. Figures: transit (guest's card to page), agent
// command to first sound in the page, and bandwidth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { chromium, type Page } from 'playwright-core';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  dominantFrequency,
  percentile,
  servePage,
  startTestGateway,
} from '../testing/browser-harness.ts';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const blocks = (p: Page) => p.evaluate(() => (window as unknown as AudioWindow).__audio.length);
const stats = (p: Page) =>
  p.evaluate(() => ({ ...(window as unknown as AudioWindow).__viewer.audio.stats }));

test(
  'real guest: the viewer receives and plays the guest’s 440 Hz tone; mute stops it',
  { timeout: 1_800_000 },
  async (t) => {
    const noChromium = chromiumMissing();
    if (noChromium) throw new Error(noChromium);
    const hv = await startEphemeralHypervisor();
    const probe = new HypervisorClient({
      url: hv.url,
      secret: hv.config.secret,
      timeoutMs: 1_500_000,
    });
    await probe.connected();
    const vm = await probe.create({ appliance: 'desktop', name: 'e2e-sound' });
    const domain = hv.host.get(vm.id);
    const { gateway, attachSecret, url } = await startTestGateway(hv);
    const server = await servePage({
      gatewayUrl: url,
      vm: vm.id,
      attachSecret,
      bundle: await bundleViewer(),
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'],
    });
    try {
      const page = await (await browser.newContext()).newPage();
      // The guest keeps its screen size: the agent runs one request at a time, and a mode switch
      // on open would hold the tone requests back.
      await page.goto(`${server.url}/?follow=off`);
      await page.waitForFunction(
        () => (window as unknown as AudioWindow).__viewer.state === 'connected',
        undefined,
        { timeout: 60_000 },
      );
      await page.waitForFunction(
        () => (window as unknown as AudioWindow).__viewer.audio.state === 'on',
        undefined,
        { timeout: 10_000 },
      );
      assert.equal(await page.locator('button.rd-sound').getAttribute('aria-pressed'), 'true');

      // Three tones: each gives one "command to first sound in the page" figure.
      const toFirstSound: number[] = [];
      const transit: number[] = [];
      let received: AudioBlock[] = [];
      for (let round = 0; round < 3; round++) {
        const before = await blocks(page);
        const asked = Date.now();
        await domain.agentRequest('sound', ['tone', '440', '6000']);
        await page.waitForFunction(
          // A fifth of a second of sound: the emulated guest's speaker-test underruns, so a tone
          // leaves the card in bursts with silence between them (README, Sound).
          (n) => (window as unknown as AudioWindow).__audio.length > n + 10,
          before,
          { timeout: 60_000 },
        );
        received = await page.evaluate(
          (n) => (window as unknown as AudioWindow).__audio.slice(n),
          before,
        );
        toFirstSound.push(received[0]!.at - asked);
        transit.push(...received.map((b) => b.transitMs));
        await domain.agentRequest('sound', ['stop']);
        await sleep(1500);
      }
      const rate = received[0]!.rate;
      // The blocks that carry sound (the gaps of an underrun are silent), up to a second.
      const loud = received.filter((b) => Math.max(...b.samples.map(Math.abs)) > 0.05);
      const samples = loud.flatMap((b) => b.samples).slice(0, rate);
      const hz = dominantFrequency(samples, rate);
      // Zero crossings inside each loud block (joined blocks start at arbitrary phases): half a
      // cycle from one crossing to the next, measured between a block's first and last crossing.
      const perBlock = loud.flatMap(({ samples: block }) => {
        const at: number[] = [];
        for (let i = 1; i < block.length; i++) if (block[i - 1]! < 0 !== block[i]! < 0) at.push(i);
        return at.length > 2 ? [((at.length - 1) / 2 / (at.at(-1)! - at[0]!)) * rate] : [];
      });
      const zeroCrossingHz = percentile(perBlock, 50);
      assert.ok(Math.abs(hz - 440) <= 10, `DFT peak ${hz} Hz`);
      assert.ok(Math.abs(zeroCrossingHz - 440) <= 15, `zero crossings give ${zeroCrossingHz} Hz`);

      const s0 = await stats(page);
      const t0 = Date.now();
      await domain.agentRequest('sound', ['tone', '440', '4000']);
      await sleep(4500);
      const s1 = await stats(page);
      const kbps = ((s1.bytes - s0.bytes) * 8) / (Date.now() - t0);

      // Mute: the viewer stops listening and no more chunks come.
      await page.locator('button.rd-sound').click();
      await page.waitForFunction(
        () => (window as unknown as AudioWindow).__viewer.audio.state === 'muted',
      );
      await sleep(500);
      const muted = await stats(page);
      await domain.agentRequest('sound', ['tone', '440', '2000']);
      await sleep(3000);
      assert.equal((await stats(page)).chunks, muted.chunks, 'no audio while muted');

      // Unmuted again, sound comes back.
      await page.locator('button.rd-sound').click();
      await domain.agentRequest('sound', ['tone', '440', '2000']);
      await page.waitForFunction(
        (n) => (window as unknown as AudioWindow).__viewer.audio.stats.chunks > n,
        muted.chunks,
        { timeout: 30_000 },
      );

      t.diagnostic(
        `audio: ${hz} Hz (DFT), ${zeroCrossingHz.toFixed(1)} Hz (zero crossings); ` +
          `transit card->page n=${transit.length} p50 ${percentile(transit, 50)} ms p95 ${percentile(transit, 95)} ms; ` +
          `agent command->first sound in page ${toFirstSound.join(', ')} ms; ` +
          `bandwidth ${kbps.toFixed(1)} kbit/s of Opus payload while playing; ` +
          `load ${loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`,
      );
    } finally {
      await browser.close();
      await server.close();
      await gateway.close();
      probe.close();
      await hv.close();
    }
  },
);
