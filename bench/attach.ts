// `npm run bench -- --only attach`: the figures the attach path decides, through the real
// portal (bench/portal.ts): time to desktop (new users clicking "Open desktop", standby pool on)
// and reconnect (a second browser taking over the running desktop). Quick to run before and
// after a change to the portal's desktop page, the viewer's connect or the gateway's feeds.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { internalsOf } from '@raydesk/hypervisor/testing';
import {
  ATTACH_PHASES_METHOD,
  attachTimeline,
  formatPhases,
  reconnectPhases,
  type AttachPhases,
} from './attach-phases.ts';
import type { Plan } from './options.ts';
import { portalTimeToDesktop, releaseStandby, startPortalStack } from './portal.ts';
import { emptyResults, METHODS, RECONNECT_PAGE, type RunOutput } from './run.ts';
import { desktopPaintedAfterNavigation, waitConnected } from './stack.ts';
import { dist, percentile, round } from './stats.ts';

export async function runAttachBench(
  plan: Plan,
  memoryBudgetMiB: number,
  log: (line: string) => void,
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const series: Record<string, number[]> = {};
  const results = emptyResults();
  log('starting hypervisor, gateway, portal and Chromium (attach figures only)');
  // --quick keeps this section short but still gives a p95 some meaning.
  const samples =
    plan.mode === 'quick'
      ? { timeToDesktop: 5, reconnect: 10 }
      : { timeToDesktop: plan.timeToDesktop, reconnect: plan.reconnect };
  const { stack, portal } = await startPortalStack({ memoryBudgetMiB, log });
  try {
    await internalsOf(stack.hv.host).golden.state('desktop');
    const shot = join(import.meta.dirname, '..', 'bench-results', `portal-first-paint-attach.png`);
    const ttdRun = await portalTimeToDesktop(
      stack,
      portal,
      Math.max(1, samples.timeToDesktop),
      log,
      shot,
    );
    const ttd = ttdRun.samples;
    series.timeToDesktopMs = ttd;
    results.timeToDesktopMs = dist(
      ttd,
      METHODS.timeToDesktopMs +
        ` Standby pool on: ${ttdRun.standbyClaims} of ${ttd.length} clicks found a standby desktop VM ready. n=${ttd.length}.`,
      0,
    );
    await releaseStandby(stack);

    // Reconnect: takeovers of the last user's running desktop by the bench's viewer page, which
    // carries its attach token and joins early as the portal's desktop page does.
    let viewer = await stack.open(ttdRun.domainId);
    await waitConnected(viewer);
    await ttdRun.user.leaveViewer();
    const reconnect: number[] = [];
    const reconnectSteps: AttachPhases[] = [];
    const reconnectLoad = loadavg()[0]!;
    for (let i = 0; i < samples.reconnect; i++) {
      const next = await stack.open(ttdRun.domainId, `?name=Browser%20${i + 2}&${RECONNECT_PAGE}`);
      reconnect.push(await desktopPaintedAfterNavigation(next.page));
      const phases = await reconnectPhases(next, stack.upgradesAt);
      reconnectSteps.push(phases);
      log(
        `reconnect #${i + 1} (load ${loadavg()[0]!.toFixed(1)}): ${reconnect.at(-1)!.toFixed(0)} ms; ${formatPhases(phases)}`,
      );
      await viewer.close();
      viewer = next;
    }
    results.attachPhasesMs = {
      timeToDesktop: attachTimeline(ttdRun.phases, ttdRun.load),
      reconnect: reconnect.length
        ? attachTimeline(reconnectSteps, { start: reconnectLoad, end: loadavg()[0]! })
        : null,
      method: ATTACH_PHASES_METHOD,
    };
    log(`timeToDesktop p50 timeline: ${formatPhases(results.attachPhasesMs.timeToDesktop!.p50)}`);
    if (reconnect.length)
      log(`reconnect p50 timeline: ${formatPhases(results.attachPhasesMs.reconnect!.p50)}`);
    if (reconnect.length) {
      log(
        `reconnect: p50 ${percentile(reconnect, 50).toFixed(0)} ms, p95 ${percentile(reconnect, 95).toFixed(0)} ms, n=${reconnect.length}`,
      );
      series.reconnectMs = reconnect;
      results.reconnectMs = dist(reconnect, METHODS.reconnectMs + ` n=${reconnect.length}.`, 0);
    }
    await viewer.close();
  } finally {
    await portal.close();
    await stack.close();
  }
  return {
    results,
    series,
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, attach only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}
