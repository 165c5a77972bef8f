/// <reference lib="dom" />
// The real stack for the benchmark, all on loopback: a hypervisor in this process
// (startEphemeralHypervisor), the real gateway (createGateway), a page server that serves the
// real web viewer bundled with esbuild and mints attach tokens, and headless Chromium
// (playwright-core with /usr/bin/chromium). The page pieces are the gateway's browser test
// harness (gateway/test/browser-harness.ts), imported rather than copied.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { PORTAL_HOST_RESOLVER_RULE } from '@raydesk/web/testing';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  bundleEarlyAttach,
  bundleViewer,
  chromiumMissing,
  servePage,
  type TestPageServer,
} from '@raydesk/viewer/testing';

export const CANVAS = 'canvas[aria-label="Remote desktop"]';

/**
 * Runs in the page before its own scripts. The test page assigns `window.__paints = []` and the
 * viewer's onPaint pushes into it; a setter wraps that array's push so every painted frame is
 * seen the moment it is painted: it records the first full frame, the first frame on which the
 * canvas shows the desktop, and resolves a pending input probe when its region's pixels change.
 */
export const INIT_SCRIPT = `(() => {
  const canvas = () => document.querySelector(${JSON.stringify(CANVAS)});
  const hash = (r) => {
    const c = canvas();
    const d = c.getContext('2d').getImageData(r.x, r.y, Math.min(r.w, c.width - r.x), Math.min(r.h, c.height - r.y)).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i += 4) { h = Math.imul(h ^ d[i], 16777619); h = Math.imul(h ^ d[i + 1], 16777619); }
    return h >>> 0;
  };
  const looksLikeDesktop = () => {
    const c = canvas();
    if (!c || c.width < 640) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 997) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size >= 3;
  };
  const bench = { fullAt: 0, desktopAt: 0, probe: null, hash };
  window.__bench = bench;
  const onPaint = (info) => {
    if (info.full && !bench.fullAt) bench.fullAt = info.at;
    if (bench.fullAt && !bench.desktopAt && looksLikeDesktop()) bench.desktopAt = info.at;
    const probe = bench.probe;
    if (probe && hash(probe.region) !== probe.base) { bench.probe = null; probe.done(performance.now()); }
  };
  let paints;
  Object.defineProperty(window, '__paints', {
    configurable: true,
    get() { return paints; },
    set(value) {
      paints = value;
      value.push = function (...items) {
        const r = Array.prototype.push.apply(this, items);
        for (const item of items) { try { onPaint(item); } catch (e) { console.error(e); } }
        return r;
      };
    },
  });
  // Attach steps, epoch ms on the page clock (attachSteps): the viewer created its socket (its
  // script ran and mounted), the socket opened, session:ready and the first part of the first
  // full frame arrived. Reset by the portal script on a click on "Open desktop".
  const epoch = () => performance.timeOrigin + performance.now();
  // socket.io over engine.io: '4' (message), then '2' (event) or '5<n>-' (event with binary
  // attachments), an optional namespace and ack id, then the JSON array [name, payload].
  const payloadOf = (text, name) => {
    if (typeof text !== 'string' || text[0] !== '4' || !text.includes(name)) return null;
    const start = text.indexOf('[');
    if (start < 0) return null;
    try {
      const message = JSON.parse(text.slice(start));
      return message[0] === name ? message[1] : null;
    } catch { return null; }
  };
  window.__benchPayloadOf = payloadOf;
  window.__benchSteps = {};
  // A proxy, not a subclass: the page gets a plain WebSocket (noVNC checks the methods of the
  // socket's own prototype and refuses a subclass's: 'Raw channel missing property: send').
  window.WebSocket = new Proxy(window.WebSocket, {
    construct(NativeSocket, args) {
      window.__benchSteps.socketCreatedAt ||= epoch();
      const socket = new NativeSocket(...args);
      socket.addEventListener('open', () => { window.__benchSteps.socketOpenAt ||= epoch(); });
      // Added before engine.io sets onmessage: runs before the viewer handles the message.
      socket.addEventListener('message', (event) => {
        const steps = window.__benchSteps;
        if (!steps.readyAt && payloadOf(event.data, 'session:ready')) steps.readyAt = epoch();
        const update = steps.firstFrameAt ? null : payloadOf(event.data, 'display:update');
        if (update && update.full) steps.firstFrameAt = epoch();
      });
      return socket;
    },
  });
  bench.arm = (region, timeoutMs) => {
    bench.result = new Promise((resolve) => {
      const timer = setTimeout(() => { bench.probe = null; resolve(-1); }, timeoutMs);
      bench.probe = { region, base: hash(region), done: (t) => { clearTimeout(timer); resolve(t); } };
    });
  };
})();`;

export interface Viewer {
  context: BrowserContext;
  page: Page;
  /** Bytes of WebSocket frames the page received (socket.io payloads, as on the wire). */
  wsBytes(): number;
  close(): Promise<void>;
}

export const nowEpoch = () => performance.timeOrigin + performance.now();

export interface Stack {
  hv: RunningHypervisor;
  client: HypervisorClient;
  gateway: Gateway;
  gatewayUrl: string;
  /** The gateway's service secret and the attach-token secret it verifies (for the portal). */
  gatewaySecret: string;
  attachSecret: string;
  browser: Browser;
  /** Every gateway diff+encode time, ms, as observed by its encode histogram. */
  encodeMs: number[];
  /** When each WebSocket upgrade request reached the gateway (epoch ms, this process's clock). */
  upgradesAt: number[];
  /**
   * The bench's viewer page for `vmId`. It keeps the guest's screen size unless `follow` is set:
   * a key typed while the guest changes size waits for the change (seconds for the first one),
   * so a figure of something else would measure that instead (desktopIo measures it).
   */
  open(vmId: string, query?: string, options?: { follow?: boolean }): Promise<Viewer>;
  close(): Promise<void>;
}

export async function startStack(options: {
  memoryBudgetMiB: number;
  /** The hypervisor's display frame clock for this run (default: DISPLAY_FPS from the config). */
  displayFps?: number;
  /** Draw-driven frames' rate cap (default: DISPLAY_MAX_FPS); 0 turns them off. */
  displayMaxFps?: number;
  /** The gateway's small-update threshold in tiles (default 16); 0 makes every update wait. */
  smallUpdateTiles?: number;
  /** Where the gateway posts its session events (the portal's internal API), if a portal runs. */
  portalInternalUrl?: string;
}): Promise<Stack> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const hv = await startEphemeralHypervisor({
    memoryBudgetMiB: options.memoryBudgetMiB,
    ...(options.displayFps ? { displayFps: options.displayFps } : {}),
    ...(options.displayMaxFps !== undefined ? { displayMaxFps: options.displayMaxFps } : {}),
  });
  const client = new HypervisorClient({
    url: hv.url,
    secret: hv.config.secret,
    timeoutMs: 600_000,
  });
  await client.connected();
  const attachSecret = randomBytes(32).toString('hex');
  const gatewaySecret = randomBytes(16).toString('hex');
  const gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: gatewaySecret,
      attachTokenSecret: attachSecret,
      hypervisorUrl: hv.url,
      hypervisorSecret: hv.config.secret,
      portalInternalUrl: options.portalInternalUrl ?? null,
      allowedOrigins: [],
      logLevel: 'silent',
      smallUpdateTiles: options.smallUpdateTiles,
    },
    logger: pino({ level: 'silent' }),
  });
  // Observe the gateway's own encode timing (diff + encode per frame per viewer) exactly.
  const encodeMs: number[] = [];
  const histogram = gateway.metrics.encodeSeconds;
  const observe = histogram.observe.bind(histogram) as (...args: unknown[]) => void;
  (histogram as unknown as { observe: (...args: unknown[]) => void }).observe = (...args) => {
    const value = typeof args[0] === 'number' ? args[0] : args[1];
    if (typeof value === 'number') encodeMs.push(value * 1000);
    observe(...args);
  };
  const upgradesAt: number[] = [];
  gateway.http.prependListener('upgrade', () => upgradesAt.push(nowEpoch()));
  const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
  // Minified, as the portal's viewer page serves it: loading it is part of reconnect.
  const bundle = await bundleViewer({ minify: true });
  const earlyBundle = await bundleEarlyAttach({ minify: true });
  // The portal's pages (bench/portal.ts) are opened as another computer would: by a name.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, PORTAL_HOST_RESOLVER_RULE],
  });
  const pages = new Map<string, TestPageServer>();
  const viewers = new Set<Viewer>();

  const open = async (
    vmId: string,
    query = '',
    options: { follow?: boolean } = {},
  ): Promise<Viewer> => {
    if (!options.follow) query += `${query ? '&' : '?'}follow=off`;
    let server = pages.get(vmId);
    if (!server) {
      server = await servePage({ gatewayUrl, vm: vmId, attachSecret, bundle, earlyBundle });
      pages.set(vmId, server);
    }
    const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
    await context.addInitScript(INIT_SCRIPT);
    const page = await context.newPage();
    let bytes = 0;
    page.on('websocket', (ws) => {
      ws.on('framereceived', (frame) => {
        bytes +=
          typeof frame.payload === 'string'
            ? Buffer.byteLength(frame.payload)
            : frame.payload.length;
      });
    });
    await page.goto(`${server.url}/${query}`);
    const viewer: Viewer = {
      context,
      page,
      wsBytes: () => bytes,
      async close() {
        viewers.delete(viewer);
        await context.close().catch(() => undefined);
      },
    };
    viewers.add(viewer);
    return viewer;
  };

  return {
    hv,
    client,
    gateway,
    gatewayUrl,
    gatewaySecret,
    attachSecret,
    browser,
    encodeMs,
    upgradesAt,
    open,
    async close() {
      for (const v of [...viewers]) await v.close();
      await browser.close().catch(() => undefined);
      for (const s of pages.values()) await s.close().catch(() => undefined);
      await gateway.close().catch(() => undefined);
      for (const d of await client.list().catch(() => [])) {
        if (d.state !== 'stopped') await client.destroy(d.id).catch(() => undefined);
      }
      client.close();
      await hv.close();
    },
  };
}

/**
 * Waits until the page has painted a complete frame that shows the desktop; returns that paint's
 * time in epoch ms. Page clocks and this process's are the same machine's clock (a round trip to
 * measure an offset only adds its own delay under load).
 */
export async function desktopPaintedAt(page: Page, timeoutMs = 120_000): Promise<number> {
  return paintedSince(page, timeoutMs, true);
}

/**
 * Waits until the page has painted the desktop; returns ms from the page's navigation start (its
 * time origin: when the browser began loading it, as a user pressing Enter) to that paint. Both
 * ends are on the page's clock, so the bench's own CDP traffic is outside the figure.
 */
export async function desktopPaintedAfterNavigation(
  page: Page,
  timeoutMs = 120_000,
): Promise<number> {
  return paintedSince(page, timeoutMs, false);
}

async function paintedSince(page: Page, timeoutMs: number, epoch: boolean): Promise<number> {
  const handle = await page.waitForFunction(
    (asEpoch) => {
      const b = (window as unknown as { __bench?: { desktopAt: number } }).__bench;
      if (!b || !b.desktopAt) return 0;
      return asEpoch ? performance.timeOrigin + b.desktopAt : b.desktopAt;
    },
    epoch,
    { timeout: timeoutMs, polling: 25 },
  );
  return (await handle.jsonValue()) as number;
}

/** The page's attach steps (INIT_SCRIPT), epoch ms on the page clock; absent ones are missing. */
export interface PageAttachSteps {
  /** The page's navigation started: its time origin. */
  navigationStartAt: number;
  /** The navigation's document arrived (responseEnd); a client-side navigation keeps the old one. */
  documentAt: number;
  socketCreatedAt?: number;
  socketOpenAt?: number;
  readyAt?: number;
  firstFrameAt?: number;
  /** The paint that showed the desktop (desktopPaintedAt). */
  paintedAt?: number;
}

export async function attachSteps(page: Page): Promise<PageAttachSteps> {
  return page.evaluate(() => {
    const w = window as unknown as {
      __benchSteps: Omit<PageAttachSteps, 'navigationStartAt' | 'documentAt' | 'paintedAt'>;
      __bench?: { desktopAt: number };
    };
    const nav = performance.getEntriesByType('navigation')[0] as
      PerformanceNavigationTiming | undefined;
    return {
      ...w.__benchSteps,
      navigationStartAt: performance.timeOrigin,
      documentAt: performance.timeOrigin + (nav?.responseEnd ?? 0),
      ...(w.__bench?.desktopAt ? { paintedAt: performance.timeOrigin + w.__bench.desktopAt } : {}),
    };
  });
}

export async function waitConnected(viewer: Viewer, timeoutMs = 60_000): Promise<void> {
  await viewer.page.waitForFunction(
    () => (window as unknown as { __viewer: { state: string } }).__viewer.state === 'connected',
    undefined,
    { timeout: timeoutMs, polling: 25 },
  );
}

export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * One input-to-paint sample: arms a pixel probe over `region`, presses `key` through Chromium's
 * real input pipeline (CDP), and returns ms from the page's keydown event to the paint that
 * changed the region's pixels; -1 on timeout.
 */
export async function inputSample(
  viewer: Viewer,
  key: string,
  region: Region,
  timeoutMs = 5_000,
): Promise<number> {
  const { page } = viewer;
  await page.evaluate(
    ([r, t]) => {
      const w = window as unknown as { __bench: { arm(r: unknown, t: number): void } };
      w.__bench.arm(r, t as number);
    },
    [region, timeoutMs] as const,
  );
  const keysBefore = await page.evaluate(
    () => (window as unknown as { __keys: number[] }).__keys.length,
  );
  await page.keyboard.press(key);
  return page.evaluate(async (n) => {
    const w = window as unknown as {
      __bench: { result: Promise<number> };
      __keys: number[];
      __paints: unknown[];
    };
    const paintedAt = await w.__bench.result;
    const keyAt = w.__keys[n];
    // Let the echo finish (it can span several frames) so the next sample starts from a still
    // screen: no paint for 150 ms, at most 3 s.
    let count = w.__paints.length;
    let still = performance.now();
    const limit = performance.now() + 3_000;
    while (performance.now() - still < 150 && performance.now() < limit) {
      await new Promise((r) => setTimeout(r, 10));
      if (w.__paints.length !== count) {
        count = w.__paints.length;
        still = performance.now();
      }
    }
    if (paintedAt < 0 || keyAt === undefined || paintedAt < keyAt) return -1;
    return paintedAt - keyAt;
  }, keysBefore);
}

export async function focusCanvas(viewer: Viewer): Promise<void> {
  await viewer.page.focus(CANVAS);
}

/** Guest pixel (x, y) to page coordinates, whatever the viewer's scaling. */
export async function guestToPage(
  viewer: Viewer,
  x: number,
  y: number,
): Promise<{ x: number; y: number }> {
  return viewer.page.evaluate(
    ([sel, gx, gy]) => {
      const c = document.querySelector(sel as string) as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      return {
        x: r.left + ((gx as number) * r.width) / c.width,
        y: r.top + ((gy as number) * r.height) / c.height,
      };
    },
    [CANVAS, x, y] as const,
  );
}
