/// <reference lib="dom" />
// The portal in the benchmark's path: the real Next.js production server (web/server.mjs, started
// by scripts/lib/portal-server.ts as the e2e tests do) in front of the bench's hypervisor and
// gateway, and portal users in headless Chromium who sign in and click "Open desktop".
//
// The portal's viewer has no paint hook, so the page is watched from outside: a script wraps the
// page's WebSocket to see the socket.io traffic, learns which display updates are full frames, and
// feeds stack.ts's paint detector (INIT_SCRIPT) each time the viewer acknowledges a frame. The
// viewer sends `frame:ack` right after it painted a frame's last rect, in the same callback as its
// own onPaint, so the detector sees the same paints as on the bench's bare viewer page.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { freePort, startPortalServer, type PortalServer, hashPassword } from '@raydesk/web/testing';
import { fitGuestScreen, type GuestScreenSize } from '@raydesk/common';
import {
  attachSteps,
  CANVAS,
  INIT_SCRIPT,
  desktopPaintedAt,
  startStack,
  type Stack,
} from './stack.ts';
import { formatPhases, phasesOf, upgradeAfter, type AttachPhases } from './attach-phases.ts';

/** Runs after INIT_SCRIPT (which defines the `__paints` hook) in every portal page. */
const PORTAL_PAINT_SCRIPT = `(() => {
  const payloadOf = window.__benchPayloadOf;
  const fullFrames = new Set();
  window.__paints = [];
  const Native = window.WebSocket;
  const send = Native.prototype.send;
  Native.prototype.send = function (data) {
    const ack = payloadOf(data, 'frame:ack');
    if (ack && typeof ack.seq === 'number') {
      const at = performance.now();
      const full = fullFrames.delete(ack.seq);
      window.__paints.push({ seq: ack.seq, full, at });
    }
    return send.call(this, data);
  };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const update = payloadOf(event.data, 'display:update');
        if (update && update.full && typeof update.seq === 'number') fullFrames.add(update.seq);
      });
    }
  };
  // The page's own timestamp of the click on "Open desktop" (or "Resume and open desktop"), as
  // epoch ms on the page clock; kept in sessionStorage in case the click navigates. The attach
  // steps (INIT_SCRIPT) start again from it.
  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    if (button && /open desktop/i.test(button.textContent || '')) {
      sessionStorage.setItem('bench.openClickAt', String(performance.timeOrigin + event.timeStamp));
      window.__benchSteps = {};
    }
  }, true);
})();`;

const VIEWPORT = { width: 1360, height: 860 };
/** RAYDESK_BENCH_TRACE=1 prints each step of the portal flow (to see where a run waits). */
const trace = (line: string) => {
  if (process.env.RAYDESK_BENCH_TRACE)
    process.stderr.write(`[bench portal ${new Date().toISOString()}] ${line}\n`);
};
/** The home page's desktop badge for each state the bench clicks from (STATE_LABEL). */
export type HomeState = 'Not created yet' | 'Suspended';

export interface OpenDesktopResult {
  /** Click on "Open desktop" to the first complete frame showing the desktop, page clock, ms. */
  ms: number;
  /** Portal VM id and hypervisor domain id of the user's desktop. */
  vmId: string;
  domainId: string;
  /** Server-side time of the portal's open-desktop call (tookMs in its answer). */
  serverMs: number;
  /** Each attach step, ms after the click (attach-phases.ts). */
  phases: AttachPhases;
  /** A paused standby desktop VM was ready in the hypervisor at the click. */
  standbyReady: boolean;
  /** The open call's steps, as its Server-Timing header gave them (`name;dur=ms, …`). */
  openSteps: string;
  /** What the portal process logged between the click and the paint. */
  portal: PortalWindow;
}

/** The portal's own log between two epoch ms (web/server.mjs, PORTAL_STALL_LOG_MS, debug). */
export interface PortalWindow {
  /** Its event loop's stalls of 50 ms or more: how many, the longest, their sum, and the
   * portal's CPU time during them (near totalMs: busy itself; far below: waiting for a core). */
  stalls: { n: number; maxMs: number; totalMs: number; cpuMs: number };
  /** Each proxied viewer WebSocket: ms after the start it reached the portal, ms until the
   * portal had sent it on to the gateway, ms to the gateway's answer. */
  upgrades: { atMs: number; sentMs?: number; tookMs: number }[];
}

export function portalWindow(log: string, from: number, to: number): PortalWindow {
  const out: PortalWindow = { stalls: { n: 0, maxMs: 0, totalMs: 0, cpuMs: 0 }, upgrades: [] };
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: {
      time?: number;
      msg?: string;
      stalledMs?: number;
      cpuMs?: number;
      tookMs?: number;
      sentMs?: number;
    };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.time === undefined || entry.time < from || entry.time > to) continue;
    if (entry.msg === 'portal event loop stalled' && entry.stalledMs !== undefined) {
      out.stalls.n++;
      out.stalls.maxMs = Math.max(out.stalls.maxMs, entry.stalledMs);
      out.stalls.totalMs += entry.stalledMs;
      out.stalls.cpuMs += entry.cpuMs ?? 0;
    } else if (entry.msg === 'viewer WebSocket proxied' && entry.tookMs !== undefined) {
      out.upgrades.push({
        atMs: Math.round(entry.time - entry.tookMs - from),
        ...(entry.sentMs !== undefined ? { sentMs: entry.sentMs } : {}),
        tookMs: entry.tookMs,
      });
    }
  }
  return out;
}

export interface PortalUser {
  email: string;
  page: Page;
  /**
   * From the home page in state `from`, clicks "Open desktop" and waits until the viewer page
   * has painted a complete frame that shows the desktop. `screenshot`: a PNG of the page then.
   */
  openDesktop(from: HomeState, screenshot?: string): Promise<OpenDesktopResult>;
  /**
   * On the viewer page: waits until the guest's screen has the size this window asks for (the
   * portal's viewer follows its window) and returns that size. A resize holds keys for seconds,
   * so figures of something else start after it.
   */
  screenFollowed(timeoutMs?: number): Promise<GuestScreenSize>;
  /** Goes back to the home page: the viewer page and its gateway socket close. */
  leaveViewer(): Promise<void>;
  close(): Promise<void>;
}

export interface BenchPortal {
  server: PortalServer;
  /** The hypervisor keeps a standby desktop VM (STANDBY_APPLIANCES includes desktop). */
  standbyDesktop: boolean;
  /** A fresh portal user (no VM yet), signed in, on the home page, in a new browser context. */
  newUser(label: string): Promise<PortalUser>;
  close(): Promise<void>;
}

const BENCH_ADMIN = {
  email: 'admin@bench.test',
  password: `bench-admin-${randomBytes(8).toString('hex')}`,
};

/**
 * The bench stack (hypervisor, gateway, Chromium; see stack.ts) with the real portal in front:
 * the gateway posts its session events to the portal, which mints the attach tokens it verifies.
 */
export async function startPortalStack(options: {
  memoryBudgetMiB: number;
  log: (line: string) => void;
}): Promise<{ stack: Stack; portal: BenchPortal }> {
  const port = await freePort();
  const stack = await startStack({
    memoryBudgetMiB: options.memoryBudgetMiB,
    portalInternalUrl: `http://127.0.0.1:${port}`,
  });
  try {
    options.log(
      'starting the portal (web/server.mjs, production build, throwaway SQLite database)',
    );
    const server = await startPortalServer({
      port,
      hypervisor: { port: stack.hv.config.port, secret: stack.hv.config.secret },
      gatewayUrl: stack.gatewayUrl,
      gatewaySecret: stack.gatewaySecret,
      attachSecret: stack.attachSecret,
      admin: BENCH_ADMIN,
      // The bench signs in many users from one address.
      // Stalls of its event loop and each proxied upgrade go to its log (portalWindow).
      env: { LOGIN_MAX_FAILURES_ADDRESS: '1000', PORTAL_STALL_LOG_MS: '50', LOG_LEVEL: 'debug' },
      startTimeoutMs: 120_000,
    });
    if (!server.health.hypervisor.ok || !server.health.gateway.ok) {
      throw new Error(`the portal cannot reach the stack: ${JSON.stringify(server.health)}`);
    }
    // Next.js loads a route's code on its first request; a portal in service has served these
    // before. Signed out, this loads the sign-in page and the proxy; the proxy refuses the other
    // requests before their routes load, so the first click still loads the open-desktop route
    // (in a full run that first answer took 0.9 s, later ones 0.2-0.5 s). Nothing is created.
    for (const [path, method] of [
      ['/login', 'GET'],
      ['/', 'GET'],
      ['/api/me', 'GET'],
      ['/api/desktop/open', 'POST'],
      ['/desktop/warmup', 'GET'],
      ['/api/vms/warmup/attach-token', 'POST'],
    ] as const) {
      await server
        .request(path, { method, headers: { origin: server.url } })
        .catch(() => undefined);
    }
    // As the daemon does (hypervisor/src/host/main.ts); the embedded host starts without it.
    stack.hv.host.enableStandby(stack.hv.config.standbyAppliances);
    const standbyDesktop = stack.hv.config.standbyAppliances.includes('desktop');
    const users = new Set<PortalUser>();
    const portal: BenchPortal = {
      server,
      standbyDesktop,
      async newUser(label) {
        const user = await createPortalUser(stack, server, standbyDesktop, label);
        users.add(user);
        const close = user.close;
        user.close = async () => {
          users.delete(user);
          await close();
        };
        return user;
      },
      async close() {
        for (const user of [...users]) await user.close();
        await server.close();
      },
    };
    return { stack, portal };
  } catch (error) {
    await stack.close();
    throw error;
  }
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Turns the standby pool off and waits until its VMs are gone: the host finishes preparing a
 * standby VM before it releases it (destroying one while it starts is not safe), and the figures
 * measured next should not share the CPU with that.
 */
export async function releaseStandby(stack: Stack, timeoutMs = 180_000): Promise<void> {
  stack.hv.host.enableStandby([]);
  await waitUntil(
    'the standby VMs to be released',
    async () =>
      !(await stack.client.list()).some(
        (d) => d.name.startsWith('standby-') && d.state !== 'stopped',
      ),
    timeoutMs,
    500,
  );
}

/** The pool's own readiness: its standby is paused and its personal disk staged. */
async function standbyReady(stack: Stack): Promise<boolean> {
  return stack.hv.host.info().standbyReady.includes('desktop');
}

async function createPortalUser(
  stack: Stack,
  server: PortalServer,
  standbyDesktop: boolean,
  label: string,
): Promise<PortalUser> {
  const email = `${label}-${randomBytes(4).toString('hex')}@bench.test`;
  const password = `bench-${randomBytes(12).toString('hex')}`;
  await server.db.user.create({
    data: {
      email,
      name: `Bench ${label}`,
      passwordHash: await hashPassword(password),
      maxVms: 3,
      maxMemoryMiB: 2048,
    },
  });
  trace(`${email}: created in the portal database`);
  const browser: Browser = stack.browser;
  const context: BrowserContext = await browser.newContext({
    viewport: VIEWPORT,
    baseURL: server.url,
  });
  await context.addInitScript(INIT_SCRIPT);
  await context.addInitScript(PORTAL_PAINT_SCRIPT);
  const page = await context.newPage();
  trace(`${email}: browser context open`);
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', { timeout: 60_000 });
  trace(`${email}: signed in`);

  const user: PortalUser = {
    email,
    page,
    async openDesktop(from, screenshot) {
      if (new URL(page.url()).pathname !== '/') await page.goto('/');
      trace(`${email}: on the home page`);
      const badge = page.getByTestId('desktop-state');
      // The home page polls /api/me; the portal learns of a suspend from its housekeeping sync.
      await waitUntil(
        `the home page to show "${from}"`,
        async () => (await badge.textContent()) === from,
        60_000,
      );
      const button = page.getByRole('button', { name: /open desktop/i });
      // A click before React hydrated the page would do nothing.
      await waitUntil(
        'the home page to hydrate',
        () => button.evaluate((el) => Object.keys(el).some((k) => k.startsWith('__reactProps$'))),
        30_000,
        50,
      );
      // Users arrive at a host at rest: give the hypervisor time to prepare its standby VM.
      // Only a new desktop can claim one (the pool is released before the resume samples).
      const creates = from === 'Not created yet';
      if (standbyDesktop && creates)
        await waitUntil('a standby desktop VM', () => standbyReady(stack), 90_000, 500).catch(
          () => undefined,
        );
      const ready = standbyDesktop && creates && (await standbyReady(stack));
      trace(`${email}: hydrated, standby ${ready ? 'ready' : 'not ready'}; clicking`);
      const answer = page.waitForResponse((r) => r.url().endsWith('/api/desktop/open'), {
        timeout: 300_000,
      });
      await page.evaluate(() => sessionStorage.removeItem('bench.openClickAt'));
      const seen: { viewerPage?: Response; attachToken?: Response } = {};
      const watch = (r: Response) => {
        const path = new URL(r.url()).pathname;
        if (path.startsWith('/desktop/')) seen.viewerPage ??= r;
        if (path.endsWith('/attach-token')) seen.attachToken ??= r;
      };
      page.on('response', watch);
      // RAYDESK_BENCH_TRACE: every request the page makes until the desktop is painted, to see
      // what the portal serves beside the attach (epoch ms; compared with the click below).
      const requests: { at: number; line: string }[] = [];
      const onRequest = (r: import('playwright-core').Request) => {
        const url = new URL(r.url());
        const prefetch = r.headers()['next-router-prefetch'] ? ' (prefetch)' : '';
        requests.push({ at: Date.now(), line: `${r.method()} ${url.pathname}${prefetch}` });
      };
      if (process.env.RAYDESK_BENCH_TRACE) page.on('request', onRequest);
      await button.click();
      const response = await answer;
      if (!response.ok())
        throw new Error(`open desktop answered ${response.status()}: ${await response.text()}`);
      const body = (await response.json()) as { vm: { id: string }; tookMs: number };
      trace(`${email}: open-desktop answered in ${body.tookMs} ms`);
      await page.waitForURL((url) => url.pathname === `/desktop/${body.vm.id}`, {
        timeout: 60_000,
      });
      trace(`${email}: on the viewer page`);
      const paintedAt = await desktopPaintedAt(page, 180_000);
      trace(`${email}: desktop painted`);
      page.off('response', watch);
      page.off('request', onRequest);
      const at = (r: Response | undefined, part: 'responseStart' | 'responseEnd') => {
        const t = r?.request().timing();
        return t && t[part] >= 0 ? t.startTime + t[part] : NaN;
      };
      if (screenshot) await page.screenshot({ path: screenshot });
      const timing = response.request().timing();
      const steps = await attachSteps(page);
      const clickedAt = Number(
        await page.evaluate(() => sessionStorage.getItem('bench.openClickAt')),
      );
      if (!clickedAt) throw new Error('the page did not record the click on "Open desktop"');
      if (requests.length)
        trace(
          `${email}: requests after the click: ${requests.map((r) => `${r.line} +${Math.round(r.at - clickedAt)}`).join(', ')}`,
        );
      const vm = await server.db.vm.findUniqueOrThrow({ where: { id: body.vm.id } });
      if (!vm.domainId) throw new Error(`portal VM ${vm.id} has no hypervisor domain`);
      // A client-side navigation: the page's server render came through a fetch, not a document.
      const viewerPage = at(seen.viewerPage, 'responseEnd');
      // The page clock and this process's are the same machine's.
      const gatewayUpgrade = upgradeAfter(stack.upgradesAt, clickedAt);
      return {
        ms: paintedAt - clickedAt,
        vmId: vm.id,
        domainId: vm.domainId,
        serverMs: body.tookMs,
        phases: phasesOf(steps, clickedAt, {
          openAnswered: Math.round(timing.startTime + timing.responseEnd - clickedAt),
          ...(Number.isFinite(viewerPage)
            ? { pageServed: Math.round(viewerPage - clickedAt) }
            : {}),
          ...(gatewayUpgrade !== undefined
            ? { gatewayUpgrade: Math.round(gatewayUpgrade - clickedAt) }
            : {}),
          ...(seen.attachToken
            ? { tokenAnswered: Math.round(at(seen.attachToken, 'responseEnd') - clickedAt) }
            : {}),
        }),
        standbyReady: ready,
        openSteps: response.headers()['server-timing'] ?? '',
        portal: portalWindow(server.log(), clickedAt, paintedAt),
      };
    },
    async screenFollowed(timeoutMs = 120_000) {
      const area = await page.evaluate((selector) => {
        const screen = document.querySelector(selector)!.parentElement!;
        return { w: screen.clientWidth, h: screen.clientHeight, ratio: devicePixelRatio };
      }, CANVAS);
      const wanted = fitGuestScreen(area.w, area.h, area.ratio);
      await page.waitForFunction(
        ([selector, size]) => {
          const canvas = document.querySelector(selector as string) as HTMLCanvasElement | null;
          const { width, height } = size as GuestScreenSize;
          return canvas?.width === width && canvas.height === height;
        },
        [CANVAS, wanted] as const,
        { timeout: timeoutMs, polling: 100 },
      );
      return wanted;
    },
    async leaveViewer() {
      await page.goto('/');
    },
    async close() {
      await context.close().catch(() => undefined);
    },
  };
  return user;
}

export interface PortalTimeToDesktop {
  samples: number[];
  /** Each sample's attach steps, ms after its click. */
  phases: AttachPhases[];
  /** 1-minute load average at the first and the last click. */
  load: { start: number; end: number };
  /** How many clicks found a standby desktop VM ready. */
  standbyClaims: number;
  /** The last sample's user, still on its running desktop's viewer page. */
  user: PortalUser;
  domainId: string;
}

/**
 * timeToDesktop samples through the portal: each a fresh user with no VM who signs in and clicks
 * "Open desktop". Earlier samples' desktops are destroyed; the last one is kept for what follows.
 */
export async function portalTimeToDesktop(
  stack: Stack,
  portal: BenchPortal,
  samples: number,
  log: (line: string) => void,
  screenshot?: string,
): Promise<PortalTimeToDesktop> {
  const out: number[] = [];
  const phases: AttachPhases[] = [];
  const load = { start: loadavg()[0]!, end: 0 };
  let standbyClaims = 0;
  let previous: { user: PortalUser; domainId: string } | null = null;
  for (let i = 0; i < samples; i++) {
    const user = await portal.newUser(`ttd-${i + 1}`);
    // The hypervisor and the gateway share this process's event loop: how long it stalled.
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    const opened = await user.openDesktop('Not created yet', i === 0 ? screenshot : undefined);
    stalls.disable();
    out.push(opened.ms);
    phases.push(opened.phases);
    if (opened.standbyReady) standbyClaims++;
    log(
      `timeToDesktop #${i + 1} (portal, ${opened.standbyReady ? 'standby VM ready' : 'no standby VM ready'}, load ${loadavg()[0]!.toFixed(1)}): ${opened.ms.toFixed(0)} ms (${opened.serverMs} ms in the open route, hypervisor+gateway event loop stalled up to ${Math.round(stalls.max / 1e6)} ms); ${formatPhases(opened.phases)}; open steps: ${opened.openSteps}; portal loop stalls: ${JSON.stringify(opened.portal.stalls)}, proxied upgrades: ${JSON.stringify(opened.portal.upgrades)}`,
    );
    if (previous) {
      await previous.user.close();
      await stack.client.destroy(previous.domainId).catch(() => undefined);
    }
    previous = { user, domainId: opened.domainId };
  }
  load.end = loadavg()[0]!;
  return {
    samples: out,
    phases,
    load,
    standbyClaims,
    user: previous!.user,
    domainId: previous!.domainId,
  };
}
