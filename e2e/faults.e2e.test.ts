/// <reference lib="dom" />
// Fault tests with real processes and kill -9. The whole stack runs as `npm start` runs it: the
// hypervisor daemon, the gateway and the portal (web/server.mjs over the production build), each
// its own process under the real supervisor (scripts/lib/processes.ts, the same specs as
// scripts/start.ts), on free ports with a throwaway data directory and database. A signed-in
// user's personal desktop (the X desktop appliance) is open in headless Chromium. Then, one at a
// time, SIGKILL of:
//   - the gateway: VMs keep running; the viewer reconnects by itself;
//   - the hypervisor: the desktop, which had a viewer, boots again on its disk by itself; the
//     viewer says so in plain words, then attaches; a file synced before the kill is there;
//   - the portal: the viewer's connection (through the portal) drops; it keeps trying while the
//     portal is down and comes back by itself;
//   - the portal and then the gateway: the viewer retries until both are back.
// The browser uses the portal as another computer does: http://vdi.example.test:<port>, a name
// Chromium maps to 127.0.0.2, one origin for pages, API and the gateway's socket.io.
// After each: the supervisor restarted the part, the viewer painted the desktop again without a
// page reload (a window marker survives, no navigation), and typing changes the pixels. Times
// from each kill until the desktop is painted again are logged (never asserted). Finally a clean
// stop (SIGTERM, as Ctrl-C) saves the running desktop.
//
//   npm run build -w web && npx tsx --test e2e/faults.e2e.test.ts
//
// Why the X desktop and not PORTAL_DESKTOP_APPLIANCE=console: the console appliance has its
// shell on the serial port only, so nothing typed into the viewer shows on its screen; the
// desktop's cold boot after the hypervisor kill (30-60 s here) is the price of testing typing.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { REPO_ROOT } from '@raydesk/common/node';
import { sleep, waitFor } from '@raydesk/common/testing';
import {
  freePort,
  PORTAL_BUILD_ID,
  PORTAL_HOST_NAME,
  PORTAL_HOST_RESOLVER_RULE,
  setupDatabase,
} from '@raydesk/web/testing';
import { ProcessGroup, type PartExit, type PartUp } from '../scripts/lib/processes.ts';
import { stackParts } from '../scripts/lib/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const USER = { email: 'faults@e2e.test', password: 'faults-password-e2e' };

if (!existsSync(CHROMIUM))
  throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`);
if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

/**
 * The URLs the browser uses, in one place: the portal by a name that is not loopback, and no
 * gateway URL of its own (the portal's origin carries the viewer's socket.io too). A gateway URL
 * here (GATEWAY_PUBLIC_URL) tests a deployment whose browsers reach the gateway directly.
 */
function browserUrls(ports: { portal: number }) {
  return {
    portal: `http://${PORTAL_HOST_NAME}:${ports.portal}`,
    gateway: null as string | null,
  };
}

/** Hash of the canvas pixels, and how many colours a sample of them has. */
const CANVAS_SCRIPT = () => {
  const c = document.querySelector('canvas[aria-label="Remote desktop"]') as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  const colours = new Set<number>();
  for (let i = 0; i < d.length; i += 4 * 7) {
    h = Math.imul(h ^ d[i]! ^ (d[i + 1]! << 8) ^ (d[i + 2]! << 16), 16777619);
    if (colours.size < 64) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
  }
  return { hash: h >>> 0, colours: colours.size, width: c.width };
};

/**
 * Records, in the page, every viewer state and overlay text with its time (Date.now()). A string:
 * tsx would wrap the nested function of a function literal in a helper the page does not have.
 */
const RECORDER_SCRIPT = `(() => {
  window.__seen = [];
  const root = document.querySelector('.rd-root');
  const overlay = document.querySelector('.rd-overlay');
  const record = () => {
    const text = overlay.hidden ? '' : (overlay.textContent ?? '');
    const last = window.__seen.at(-1);
    const state = root.dataset.state ?? '';
    if (last && last.state === state && last.overlay === text) return;
    window.__seen.push({ at: Date.now(), state, overlay: text });
  };
  new MutationObserver(record).observe(root, {
    attributes: true, childList: true, subtree: true, characterData: true,
  });
  record();
})()`;

describe('faults: kill -9 of each part under the supervisor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-faults-'));
  const partLogs = new Map<string, string[]>();
  const exits: PartExit[] = [];
  const ups: PartUp[] = [];
  const group = new ProcessGroup({
    handleSignals: false,
    output: (name, line) => {
      const lines = partLogs.get(name) ?? [];
      lines.push(line);
      if (lines.length > 2000) lines.splice(0, lines.length - 2000);
      partLogs.set(name, lines);
      if (process.env.E2E_VERBOSE) console.log(`# ${name}| ${line}`);
    },
    log: (line) => console.log(`# supervisor| ${line}`),
  });
  group.on('exit', (e) => exits.push(e));
  group.on('up', (u) => ups.push(u));
  /** Requests the guest made to the marker server (through the VM's NAT). */
  const guestRequests: string[] = [];
  let markerServer: Server;
  let markerPort = 0;
  let hv: HypervisorClient;
  let browser: Browser;
  let page: Page;
  let urls: ReturnType<typeof browserUrls>;
  let hypervisorPort = 0;
  let domainId = '';
  /** frame:ack messages the viewer sent (one per painted frame), by time. */
  const acks: number[] = [];
  let navigations = 0;
  const figures: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    markerServer = createServer((req, res) => {
      guestRequests.push(req.url ?? '');
      res.end('ok\n');
    });
    await new Promise<void>((r) => markerServer.listen(0, '127.0.0.1', r));
    markerPort = (markerServer.address() as { port: number }).port;
    const ports = {
      hypervisor: await freePort(),
      gateway: await freePort(),
      portal: await freePort(),
    };
    hypervisorPort = ports.hypervisor;
    urls = browserUrls(ports);
    const hypervisorSecret = `faults-hypervisor-${Date.now()}`;
    // Every setting explicit: the parts also read the repository's .env for anything unset.
    const env: NodeJS.ProcessEnv = {
      RAYDESK_DATA_DIR: join(dir, 'data'),
      HYPERVISOR_HOST: '127.0.0.1',
      HYPERVISOR_PORT: String(ports.hypervisor),
      HYPERVISOR_URL: `http://127.0.0.1:${ports.hypervisor}`,
      HYPERVISOR_SECRET: hypervisorSecret,
      HYPERVISOR_ID: 'local',
      HOST_MEMORY_BUDGET_MIB: '1024',
      STANDBY_APPLIANCES: '',
      IDLE_SUSPEND_SECONDS: '0',
      // The guest reports its marker file to this test over its NIC.
      NETWORK_ALLOWLIST_PERSONAL: `127.0.0.1:${markerPort}`,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(ports.gateway),
      GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`,
      GATEWAY_PUBLIC_URL: urls.gateway ?? '',
      GATEWAY_SECRET: `faults-gateway-secret-${Date.now()}`,
      GATEWAY_ALLOWED_ORIGINS: '',
      ATTACH_TOKEN_SECRET: `faults-attach-secret-0123456789abcdef-${Date.now()}`,
      PORTAL_INTERNAL_URL: `http://127.0.0.1:${ports.portal}`,
      PORT: String(ports.portal),
      // Every address: the browser comes through 127.0.0.2, as from another computer.
      PORTAL_BIND: '',
      PORTAL_PUBLIC_URL: '',
      TRUST_PROXY: '',
      SESSION_SECRET: `faults-session-secret-${Date.now()}-0123456789abcdef`,
      DATABASE_URL: `file:${join(dir, 'portal.db')}`,
      ADMIN_EMAIL: USER.email,
      ADMIN_PASSWORD: USER.password,
      PORTAL_DESKTOP_APPLIANCE: 'desktop',
      LOG_LEVEL: 'info',
    };
    await setupDatabase(env);
    for (const part of stackParts(env)) group.start(part);
    await Promise.race([
      Promise.all(['hypervisor', 'gateway', 'web'].map((n) => group.whenUp(n))),
      sleep(180_000).then(() => {
        throw new Error('the stack did not come up within 180 s');
      }),
    ]);
    hv = new HypervisorClient({
      url: `http://127.0.0.1:${ports.hypervisor}`,
      secret: hypervisorSecret,
      timeoutMs: 60_000,
    });
    await hv.connected();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        PORTAL_HOST_RESOLVER_RULE,
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      baseURL: urls.portal,
    });
    page = await context.newPage();
    page.on('websocket', (ws) =>
      ws.on('framesent', (frame) => {
        if (typeof frame.payload === 'string' && frame.payload.includes('"frame:ack"'))
          acks.push(Date.now());
      }),
    );
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
  });

  after(async () => {
    await browser?.close();
    hv?.close();
    await group.stop(0);
    await new Promise((r) => markerServer?.close(r));
    if (process.env.E2E_VERBOSE)
      for (const [n, l] of partLogs) console.log(`# ${n}:\n${l.join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `# fault figures (load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}):`,
    );
    for (const line of figures) console.log(`#   ${line}`);
  });

  const viewerState = () => page.locator('.rd-root').getAttribute('data-state');
  const canvas = () => page.evaluate(CANVAS_SCRIPT);
  const seen = () =>
    page.evaluate(
      () =>
        (window as unknown as { __seen: { at: number; state: string; overlay: string }[] }).__seen,
    );

  /** Clicks into the desktop's terminal and types; resolves once the pixels changed. */
  async function typingChangesPixels(text: string): Promise<void> {
    const box = (await page.locator('canvas[aria-label="Remote desktop"]').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const before = (await canvas()).hash;
    await page.keyboard.type(text, { delay: 80 });
    await waitFor(
      'the typed text to change the pixels',
      async () => (await canvas()).hash !== before,
      30_000,
    );
    await page.keyboard.press('Enter');
  }

  /** Types a line into the desktop's terminal through the viewer's clipboard panel. */
  async function typeLine(line: string): Promise<void> {
    await page.getByRole('button', { name: 'Clipboard' }).click();
    await page.getByLabel('Clipboard text').fill(`${line}\n`);
    await page.getByRole('button', { name: 'Type it' }).click();
    await page.locator('.rd-hint', { hasText: 'Sent' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Close' }).click();
  }

  /**
   * After a kill at `killedAt`: waits until the viewer shows the desktop again, i.e. it is
   * connected (no overlay) again and has painted a frame since the kill; returns the ms from the
   * kill to the later of the two. (After a hypervisor restart the frames of the booting guest
   * are painted behind the overlay, and the overlay lifts when the desktop is ready.)
   */
  async function paintedAgain(what: string, killedAt: number, timeoutMs: number): Promise<number> {
    const shownAt = await waitFor(
      `${what}: the desktop painted again`,
      async () => {
        if ((await viewerState()) !== 'connected') return null;
        const connectedAt = (await seen()).findLast((s) => s.state === 'connected')?.at ?? 0;
        const paintedAt = acks.find((t) => t >= killedAt);
        if (connectedAt < killedAt || paintedAt === undefined) return null;
        return Math.max(connectedAt, paintedAt);
      },
      timeoutMs,
      100,
    );
    await assertDesktopShown(what);
    return shownAt - killedAt;
  }

  /** The canvas shows the desktop, and the page is the one opened before the faults. */
  async function assertDesktopShown(what: string): Promise<void> {
    const { colours, width } = await canvas();
    assert.ok(
      colours >= 16 && width >= 640,
      `${what}: the canvas shows the desktop (${colours} colours)`,
    );
    assert.equal(
      await page.evaluate(() => (window as unknown as { __fault: string }).__fault),
      'set before the faults',
      `${what}: the page was not reloaded`,
    );
    assert.equal(navigations, 1, `${what}: no navigation since the desktop opened`);
  }

  /** Kills a part with SIGKILL; resolves once the supervisor reported it back up. */
  async function kill(name: string): Promise<{ killedAt: number; back: Promise<PartUp> }> {
    const pid = group.pid(name);
    assert.ok(pid, `${name} runs`);
    const upsBefore = ups.length;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const back = waitFor(
      `the supervisor to bring ${name} back`,
      () => ups.slice(upsBefore).find((u) => u.name === name),
      120_000,
    ).then((up) => {
      const exit = exits.findLast((e) => e.name === name)!;
      assert.equal(exit.pid, pid);
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(exit.restartInMs !== null, 'a restart was scheduled');
      assert.notEqual(up.pid, pid, 'a new process');
      return up;
    });
    return { killedAt, back };
  }

  test(
    'the desktop opens in the viewer; a file is written and synced inside it',
    { timeout: 300_000 },
    async () => {
      await page.goto('/login');
      await page.getByLabel('Email').fill(USER.email);
      await page.getByLabel('Password').fill(USER.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 30_000 });
      await page.getByRole('button', { name: /Open desktop/ }).click();
      await page.waitForURL(/\/desktop\//, { timeout: 180_000 });
      navigations = 1;
      await waitFor(
        'the desktop painted',
        async () => (await canvas()).colours >= 16,
        180_000,
        500,
      );
      await page.evaluate(
        () => ((window as unknown as { __fault: string }).__fault = 'set before the faults'),
      );
      await page.evaluate(RECORDER_SCRIPT);
      domainId = (await hv.list()).find((d) => d.kind === 'personal')!.id;
      await typingChangesPixels('echo typed-at-start');
      const marker = `kept-${Date.now().toString(36)}`;
      await typeLine(
        `echo ${marker} > ~/fault-marker && sync && wget -qO- http://192.168.86.1:${markerPort}/synced/$(cat ~/fault-marker)`,
      );
      await waitFor(
        'the guest to report the synced marker',
        () => guestRequests.includes(`/synced/${marker}`),
        60_000,
      );
      await page.evaluate(
        (m) => ((window as unknown as { __marker: string }).__marker = m),
        marker,
      );
      await page.screenshot({ path: join(SHOTS, 'faults-desktop.png') });
    },
  );

  test(
    'kill -9 of the gateway: VMs keep running, the viewer reconnects by itself',
    { timeout: 300_000 },
    async () => {
      const before = await hv.get(domainId);
      const { killedAt, back } = await kill('gateway');
      await waitFor(
        'the viewer to notice',
        async () => (await viewerState()) === 'reconnecting',
        30_000,
        50,
      );
      const up = await back;
      const ms = await paintedAgain('gateway', killedAt, 120_000);
      await typingChangesPixels('echo after-gateway');
      const after = await hv.get(domainId);
      assert.equal(after.state, 'running');
      assert.equal(
        after.startedAt,
        before.startedAt,
        'the VM kept running through the gateway restart',
      );
      figures.push(
        `gateway: kill -9 -> desktop painted again ${ms} ms (supervisor: back up after ${up.afterMs} ms)`,
      );
    },
  );

  test(
    'kill -9 of the hypervisor: the desktop boots again on its disk; the viewer says so and comes back',
    { timeout: 480_000 },
    async () => {
      const marker = await page.evaluate(
        () => (window as unknown as { __marker: string }).__marker,
      );
      const before = await hv.get(domainId);
      const from = (await seen()).length;
      const { killedAt, back } = await kill('hypervisor');
      const restartedText = "Your desktop's host restarted; starting your desktop again.";
      await waitFor(
        'the viewer to say the host restarted',
        async () =>
          ((await page.locator('.rd-overlay').textContent()) ?? '').includes(restartedText),
        120_000,
        100,
      );
      await page.screenshot({ path: join(SHOTS, 'faults-host-restarted.png') });
      const up = await back;
      const ms = await paintedAgain('hypervisor', killedAt, 360_000);
      await page.screenshot({ path: join(SHOTS, 'faults-host-back.png') });
      const overlays = (await seen()).slice(from).map((s) => s.overlay);
      assert.ok(
        overlays.some((o) => o.includes(restartedText)),
        'the plain-words message was shown',
      );
      await hv.connected();
      const info = await hv.get(domainId);
      assert.equal(info.state, 'running');
      assert.notEqual(info.startedAt, before.startedAt, 'it booted again');
      assert.equal((await hv.disk(domainId)).kind, 'durable');
      await typingChangesPixels('echo after-hypervisor');
      await typeLine(`wget -qO- http://192.168.86.1:${markerPort}/found/$(cat ~/fault-marker)`);
      await waitFor(
        'the guest to find its marker file after the restart',
        () => guestRequests.includes(`/found/${marker}`),
        60_000,
      );
      figures.push(
        `hypervisor: kill -9 -> desktop painted again ${ms} ms, incl. a cold boot of the desktop on its disk (supervisor: back up after ${up.afterMs} ms)`,
      );
    },
  );

  /**
   * Waits until the viewer's session has lasted long enough to start its backoff over
   * (reconnect.ts resetAfterMs), so its first retry after the next kill comes within a second,
   * while the portal is still down.
   */
  async function settled(): Promise<void> {
    await waitFor(
      'the viewer connected for 16 s',
      async () => {
        const last = (await seen()).at(-1);
        return last?.state === 'connected' && Date.now() - last.at >= 16_000;
      },
      60_000,
      500,
    );
  }

  test(
    'kill -9 of the portal: the viewer retries while it is down and comes back by itself',
    { timeout: 300_000 },
    async () => {
      await settled();
      const from = (await seen()).length;
      const { killedAt, back } = await kill('web');
      const up = await back;
      const left = (await seen()).slice(from).some((s) => s.state !== 'connected');
      if (urls.gateway === null) {
        // Through the portal's origin the viewer's connection goes down with the portal.
        assert.ok(left, 'the viewer noticed the portal going away');
        const ms = await paintedAgain('portal', killedAt, 120_000);
        const overlays = (await seen()).slice(from).map((s) => s.overlay);
        assert.ok(
          overlays.some((o) => o.includes('Cannot reach the portal.')),
          `the viewer said it could not reach the portal: ${JSON.stringify(overlays)}`,
        );
        figures.push(
          `portal: kill -9 -> desktop painted again ${ms} ms (supervisor: back up after ${up.afterMs} ms)`,
        );
      } else {
        // Reaching the gateway directly, the viewer does not need the portal while connected.
        assert.equal(left, false);
        await assertDesktopShown('portal');
        figures.push(
          `portal: kill -9 -> the viewer stayed connected (it reaches the gateway directly); portal back up after ${up.afterMs} ms`,
        );
      }
      await typingChangesPixels('echo after-portal');
    },
  );

  test(
    'kill -9 of the portal, then of the gateway: the viewer keeps retrying until both are back',
    { timeout: 300_000 },
    async () => {
      await settled();
      const from = (await seen()).length;
      const web = await kill('web');
      const gateway = await kill('gateway');
      await Promise.all([web.back, gateway.back]);
      const ms = await paintedAgain('portal and gateway', web.killedAt, 180_000);
      const overlays = (await seen()).slice(from).map((s) => s.overlay);
      assert.ok(
        overlays.some((o) => o.includes('Cannot reach the portal.')),
        `the viewer retried while the portal was down: ${JSON.stringify(overlays)}`,
      );
      await typingChangesPixels('echo after-both');
      figures.push(`portal + gateway: kill -9 of both -> desktop painted again ${ms} ms`);
    },
  );

  test(
    'a clean stop (SIGTERM, as Ctrl-C) saves the running desktop',
    { timeout: 360_000 },
    async () => {
      await browser.close();
      const stopped = Date.now();
      await group.stop(0);
      const stopMs = Date.now() - stopped;
      const hypervisorExit = exits.findLast((e) => e.name === 'hypervisor')!;
      assert.deepEqual([hypervisorExit.code, hypervisorExit.restartInMs], [0, null]);
      assert.ok(
        existsSync(join(dir, 'data', 'states', `${domainId}.state`)),
        'the desktop was saved',
      );
      assert.equal(group.pid('hypervisor'), undefined);
      await sleep(1_000);
      assert.equal(
        await fetch(`http://127.0.0.1:${hypervisorPort}/healthz`).then(
          () => 'up',
          () => 'down',
        ),
        'down',
        'nothing restarted after the stop',
      );
      figures.push(`clean stop of the stack with one desktop saved: ${stopMs} ms`);
    },
  );
});
