/// <reference lib="dom" />
// Gateway failover in a real fleet (scripts/lib/fleet-harness.ts: PostgreSQL, Redis, two hosts,
// two gateways, the portal): a Chromium viewer watches a desktop through the portal; the gateway
// it watches through is killed with SIGKILL; the figure is the time, in the page, from the kill
// to the first frame painted after the viewer lost its socket (through the other gateway, or the
// killed one once the supervisor has started it again). The next sample kills the gateway the
// viewer is on then.
import { HOST_OFFLINE_AFTER_MS } from '@raydesk/hypervisor/api';
import { DEFAULT_RECONNECT_POLICY } from '@raydesk/viewer';
import type { Page } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { pageApi, startFleetHarness, waitFor } from '../scripts/lib/fleet-harness.ts';

export interface FailoverRun {
  /** kill -9 to the desktop painted again, per sample. */
  failoverMs: number[];
  /** Samples that came back through the other gateway, not the killed one restarted. */
  toOther: number;
  /** Live hosts and gateways in the registry when the measuring began. */
  hosts: number;
  gateways: number;
  fleetUpMs: number;
}

export const FAILOVER_METHOD =
  'npm run fleet as the fleet e2e test starts it (scripts/lib/fleet-harness.ts: PostgreSQL and Redis, two hypervisor hosts, two gateways and the portal, each its own process under the supervisor), a 256 MiB desktop VM opened through the portal by a headless Chromium at http://vdi.example.test (one origin, the portal proxying /gateway/<id>/socket.io). Each sample: SIGKILL to the gateway the viewer watches through; in the page, from the kill (page clock read just before it) to the first drawImage/fillRect on the remote-desktop canvas after the viewer left the connected state, i.e. the first frame painted again, through the other gateway or through the killed one once the supervisor restarted it (0.5 s backoff, doubling; gatewayFailoverToOther counts the samples that came back through the other). The next sample kills the gateway the viewer is on then, once the viewer has been connected longer than the reset window of its retry delay (15 s).';

const CANVAS_LABEL = 'Remote desktop';

interface PageRecord {
  paints: number[];
  states: { state: string; at: number }[];
}

/** In the page, before the portal's scripts: when the desktop canvas is drawn, state changes. */
function recordPaints(label: string): void {
  const w = window as unknown as { __benchRecord: PageRecord };
  const record: PageRecord = { paints: [], states: [] };
  w.__benchRecord = record;
  const proto = CanvasRenderingContext2D.prototype;
  for (const name of ['drawImage', 'fillRect', 'putImageData'] as const) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    (proto as unknown as Record<string, unknown>)[name] = function (
      this: CanvasRenderingContext2D,
      ...args: unknown[]
    ) {
      if (this.canvas.getAttribute('aria-label') === label) record.paints.push(performance.now());
      return original.apply(this, args);
    };
  }
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const el = m.target as Element;
      if (el.classList.contains('rd-root'))
        record.states.push({ state: el.getAttribute('data-state') ?? '', at: performance.now() });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
}

const gatewayOf = (url: string) => /\/gateway\/([A-Za-z0-9_-]+)\/socket\.io\//.exec(url)?.[1] ?? '';

/** The first paint after the viewer left `connected` following `since`; null until there is one. */
async function paintedAgain(page: Page, since: number): Promise<number | null> {
  return page.evaluate((since) => {
    const r = (window as unknown as { __benchRecord: PageRecord }).__benchRecord;
    const left = r.states.find((s) => s.at >= since && s.state !== 'connected');
    if (!left) return null;
    const back = r.states.find((s) => s.at >= left.at && s.state === 'connected');
    if (!back) return null;
    return r.paints.find((at) => at >= left.at) ?? null;
  }, since);
}

export async function measureGatewayFailover(
  samples: number,
  log: (line: string) => void,
): Promise<FailoverRun> {
  const admin = { email: 'admin@bench.test', password: `bench-${randomBytes(8).toString('hex')}` };
  const user = {
    email: 'failover@bench.test',
    password: `bench-${randomBytes(8).toString('hex')}`,
  };
  log('starting a fleet: PostgreSQL, Redis, two hosts, two gateways, the portal');
  const fleet = await startFleetHarness({
    label: 'bench-fleet',
    admin,
    users: [user],
    env: { PORTAL_DESKTOP_APPLIANCE: 'desktop', HOST_MEMORY_BUDGET_MIB: '1536' },
    log: (line) => log(`supervisor: ${line}`),
  });
  try {
    log(`fleet up in ${fleet.startedInMs} ms`);
    const page = await fleet.signedIn(user);
    await page.context().addInitScript(recordPaints, CANVAS_LABEL);
    // The gateway ids the viewer's socket.io requests went to (polling first, then WebSocket).
    const gatewaysSeen: string[] = [];
    const seen = (url: string) => {
      const id = gatewayOf(url);
      if (id) gatewaysSeen.push(id);
    };
    page.on('request', (request) => seen(request.url()));
    page.on('websocket', (ws) => seen(ws.url()));
    const opened = await pageApi<{ vm: { id: string } }>(page, '/api/desktop/open', 'POST');
    if (opened.status !== 200) throw new Error(`open desktop: ${JSON.stringify(opened.body)}`);
    await page.goto(`/desktop/${opened.body.vm.id}`);
    await page.waitForFunction(
      () => {
        const w = window as unknown as { __benchRecord: PageRecord };
        return (
          w.__benchRecord.paints.length > 0 &&
          document.querySelector('.rd-root')?.getAttribute('data-state') === 'connected'
        );
      },
      undefined,
      { timeout: 120_000, polling: 100 },
    );
    const now = Date.now();
    const live = (rows: { lastHeartbeatAt: Date | null }[]) =>
      rows.filter(
        (r) => r.lastHeartbeatAt && now - r.lastHeartbeatAt.getTime() <= HOST_OFFLINE_AFTER_MS,
      ).length;
    const hosts = live(await fleet.db.hypervisorHost.findMany());
    const gateways = live(await fleet.db.gatewayNode.findMany());
    const failoverMs: number[] = [];
    let toOther = 0;
    for (let i = 0; i < samples; i++) {
      const from = gatewaysSeen.at(-1) ?? '';
      const seenBefore = gatewaysSeen.length;
      const pid = fleet.group.pid(from);
      if (!pid) throw new Error(`the viewer's gateway ${from || '(none)'} is not running`);
      const other = fleet.parts.find((p) => p.startsWith('gw-') && p !== from)!;
      await fleet.group.whenUp(other);
      // Both gateways live and the viewer steady before the kill, connected for longer than its
      // retry delay takes to reset: else each kill finds the delay doubled by the one before
      // (0.5, 1, 2, ... 15 s), which measures kills every few seconds, not a gateway failing.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const connectedFor = await page.evaluate(() => {
        const r = (window as unknown as { __benchRecord: PageRecord }).__benchRecord;
        const last = r.states.at(-1);
        return last?.state === 'connected' ? performance.now() - last.at : 0;
      });
      const settle = DEFAULT_RECONNECT_POLICY.resetAfterMs + 500 - connectedFor;
      if (settle > 0) await new Promise((resolve) => setTimeout(resolve, settle));
      const killedAt = await page.evaluate(() => performance.now());
      process.kill(pid, 'SIGKILL');
      const paintedAt = await waitFor(
        `the desktop painted again after kill -9 of ${from}`,
        () => paintedAgain(page, killedAt),
        60_000,
      );
      // The portal hands out the least-loaded live gateway: the killed one, restarted by the
      // supervisor within a second or two and as empty as the other, may get the viewer back.
      // Either way the desktop came back; the figure counts both and says which.
      const since = await waitFor(
        'the viewer on a gateway again',
        () => {
          const ids = gatewaysSeen.slice(seenBefore);
          return ids.length > 0 ? ids : undefined;
        },
        15_000,
      );
      const to = since.find((id) => id !== from);
      if (to) toOther++;
      failoverMs.push(paintedAt - killedAt);
      log(
        `gateway failover ${i + 1}/${samples} ${from}→${to ?? `${from} (restarted)`}: ${Math.round(paintedAt - killedAt)} ms`,
      );
      await waitFor(
        `${from} started again`,
        () => {
          const restarted = fleet.group.pid(from);
          return restarted !== undefined && restarted !== pid;
        },
        60_000,
      );
      await fleet.group.whenUp(from);
    }
    return { failoverMs, toOther, hosts, gateways, fleetUpMs: fleet.startedInMs };
  } finally {
    await fleet.stop();
  }
}
