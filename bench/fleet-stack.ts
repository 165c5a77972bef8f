/// <reference lib="dom" />
// Two hypervisor daemons in their own processes on loopback, the real gateway (in this process)
// with its pool of host connections, the real web viewer on a test page, and headless Chromium:
// the stack in which a desktop is relocated while a viewer watches (bench/fleet.ts and
// e2e/relocation.e2e.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { HypervisorClient, RelocationReport } from '@raydesk/hypervisor/api';
import { DAEMON_SECRET, HypervisorProcess, freePort } from '@raydesk/hypervisor/testing';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleViewer,
  chromiumMissing,
  servePage,
  type TestPageServer,
} from '@raydesk/viewer/testing';

export const CANVAS = 'canvas[aria-label="Remote desktop"]';

export interface FleetViewer {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export interface RelocationStack {
  hosts: [HypervisorProcess, HypervisorProcess];
  gateway: Gateway;
  browser: Browser;
  open(vmId: string): Promise<FleetViewer>;
  close(): Promise<void>;
}

export async function startRelocationStack(memoryBudgetMiB = 1536): Promise<RelocationStack> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const hosts = (await Promise.all(
    ['host-a', 'host-b'].map(async (id) => {
      const dataDir = mkdtempSync(join(tmpdir(), `raydesk-fleet-${id}-`));
      const host = new HypervisorProcess(dataDir, await freePort(), {
        HYPERVISOR_ID: id,
        HOST_MEMORY_BUDGET_MIB: String(memoryBudgetMiB),
      });
      await host.start();
      return host;
    }),
  )) as [HypervisorProcess, HypervisorProcess];
  const attachSecret = randomBytes(32).toString('hex');
  const gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: randomBytes(16).toString('hex'),
      attachTokenSecret: attachSecret,
      hypervisorUrl: hosts[0].url,
      hypervisorId: 'host-a',
      hypervisorSecret: DAEMON_SECRET,
      portalInternalUrl: null,
      allowedOrigins: [],
      logLevel: 'silent',
    },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
  const bundle = await bundleViewer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const pages: TestPageServer[] = [];
  const viewers = new Set<FleetViewer>();
  return {
    hosts,
    gateway,
    browser,
    async open(vmId) {
      const server = await servePage({ gatewayUrl, vm: vmId, attachSecret, bundle });
      pages.push(server);
      const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
      const page = await context.newPage();
      // The guest keeps its screen size: relocation figures must not include a mode switch.
      await page.goto(`${server.url}/?follow=off`);
      const viewer: FleetViewer = {
        context,
        page,
        async close() {
          viewers.delete(viewer);
          await context.close().catch(() => undefined);
        },
      };
      viewers.add(viewer);
      return viewer;
    },
    async close() {
      for (const viewer of [...viewers]) await viewer.close();
      await browser.close().catch(() => undefined);
      for (const server of pages) await server.close().catch(() => undefined);
      await gateway.close().catch(() => undefined);
      for (const host of hosts) {
        await host.stop('SIGKILL');
        rmSync(host.dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Waits until the viewer is connected and has painted a full frame. */
export async function waitPainted(viewer: FleetViewer, timeoutMs = 120_000): Promise<void> {
  await viewer.page.waitForFunction(
    () => {
      const w = window as unknown as {
        __viewer: { state: string };
        __paints: Array<{ full: boolean }>;
      };
      return w.__viewer.state === 'connected' && w.__paints.some((p) => p.full);
    },
    undefined,
    { timeout: timeoutMs, polling: 50 },
  );
}

/** Paints so far and times the viewer left `connected` after it first got there. */
export async function viewerRecord(
  viewer: FleetViewer,
): Promise<{ paintsAt: number[]; reconnects: number }> {
  return viewer.page.evaluate(() => {
    const w = window as unknown as {
      __paints: Array<{ at: number }>;
      __states: Array<{ state: string }>;
    };
    const first = w.__states.findIndex((s) => s.state === 'connected');
    const reconnects =
      first < 0 ? 0 : w.__states.slice(first + 1).filter((s) => s.state === 'reconnecting').length;
    return { paintsAt: w.__paints.map((p) => p.at), reconnects };
  });
}

/** Hash of the whole canvas, to see that typing changed it. */
export async function canvasHash(viewer: FleetViewer): Promise<number> {
  return viewer.page.evaluate((selector) => {
    const c = document.querySelector(selector) as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i += 7) h = Math.imul(h ^ d[i]!, 16777619);
    return h >>> 0;
  }, CANVAS);
}

/** Types a shell line into the desktop's terminal through the viewer (real key events). */
export async function typeLine(viewer: FleetViewer, line: string): Promise<void> {
  await viewer.page.focus(CANVAS);
  await viewer.page.keyboard.type(line, { delay: 15 });
  await viewer.page.keyboard.press('Enter');
}

export interface RelocationSample {
  report: RelocationReport;
  /**
   * The longest time between two paints in the viewer from the call until a second after it:
   * with a screen that changes every frame, the last frame painted before the pause to the
   * first painted from the target.
   */
  viewerGapMs: number;
  reconnects: number;
  /** Where the viewer's freeze went, in ms from the guest freezing on the source. */
  timeline: RelocationTimeline;
}

/** Moments of one relocation as seen by the source, the gateway and the viewer (ms after freeze). */
export interface RelocationTimeline {
  /** The last frame painted before the freeze (negative: before it). */
  lastPaint: number;
  /** The source heard the target runs the guest (the host pause). */
  resumed: number;
  /** The gateway heard `domain:moved`, had its watch on the target, got its first frame. */
  gatewayMoved: number;
  gatewayWatching: number;
  gatewayFirstFrame: number;
  /** The first frame from the target that changed the picture (the guest drew since the freeze). */
  gatewayFirstChange: number;
  /** The first frame painted after the gateway's first frame from the target. */
  firstPaint: number;
  /** Where the viewer's longest gap (viewerGapMs) began: near lastPaint if it is the move's. */
  longestGapFrom: number;
}

/** Relocates `vmId` from `from` to `to` while `viewer` watches a screen that keeps changing. */
export async function relocateWatched(
  from: HypervisorClient,
  to: HypervisorProcess,
  vmId: string,
  viewer: FleetViewer,
  gateway: Gateway,
): Promise<RelocationSample> {
  const pageStart = await viewer.page.evaluate(() => performance.now());
  const report = await from.call('domain:migrate', { id: vmId, to: to.url });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const { paintsAt, reconnects } = await viewerRecord(viewer);
  const window = paintsAt.filter((at) => at >= pageStart);
  const before = paintsAt.filter((at) => at < pageStart).at(-1);
  const series = before === undefined ? window : [before, ...window];
  let gap = 0;
  let gapFrom = NaN;
  for (let i = 1; i < series.length; i++) {
    if (series[i]! - series[i - 1]! > gap) {
      gap = series[i]! - series[i - 1]!;
      gapFrom = series[i - 1]!;
    }
  }
  // Every process runs on this machine: wall clocks line the moments up.
  const timeOrigin = await viewer.page.evaluate(() => performance.timeOrigin);
  const paintedAt = paintsAt.map((at) => timeOrigin + at);
  const move = gateway.feeds.get(vmId)?.lastMove;
  const frozen = report.frozenAt;
  const since = (at: number | null | undefined) => (at == null ? NaN : Math.round(at - frozen));
  const firstFrameAt = move?.firstFrameAt ?? NaN;
  const timeline: RelocationTimeline = {
    lastPaint: since(paintedAt.filter((at) => at <= frozen).at(-1)),
    resumed: Math.round(report.pausedMs),
    gatewayMoved: since(move?.movedAt),
    gatewayWatching: since(move?.watchedAt),
    gatewayFirstFrame: since(move?.firstFrameAt),
    gatewayFirstChange: since(move?.firstChangeAt),
    firstPaint: since(paintedAt.find((at) => at >= firstFrameAt)),
    longestGapFrom: since(timeOrigin + gapFrom),
  };
  return { report, viewerGapMs: gap, reconnects, timeline };
}
