// `npm run bench -- --only fleet`: live relocation and cloning between two hypervisor processes
// on loopback (bench/fleet-stack.ts), a Chromium viewer watching through the real gateway; then
// gateway failover in a whole fleet as the e2e test starts it (bench/fleet-failover.ts).
import { loadavg } from 'node:os';
import type { Plan } from './options.ts';
import { emptyResults, type RunOutput } from './run.ts';
import { relocateWatched, startRelocationStack, typeLine, waitPainted } from './fleet-stack.ts';
import { dist, mean, round } from './stats.ts';
import type { FleetFigures } from './fleet-figures.ts';

export type { FleetFigures };
import { FAILOVER_METHOD, measureGatewayFailover } from './fleet-failover.ts';

const METHOD =
  'A personal desktop VM (256 MiB) on one of two hypervisor daemons (separate processes on loopback), watched by a headless Chromium viewer through the real gateway, with `while true; do date; sleep 0.05; done` running in its terminal so that the screen changes every frame; relocated back and forth with domain:migrate (pre-copy). downtimeMs: in the page, the longest gap between two painted frames from the call until 1.5 s after it (the last frame painted before the pause to the first painted from the target, through the gateway switching hosts); hostPauseMs: the source host, from freezing the guest to the target confirming it runs; totalMs: the whole call; bytes: mean sent per relocation; viewerReconnects: viewer state changes to reconnecting over all relocations.';
const PHASES_METHOD =
  "Per relocation: pause.* is the source host's breakdown of the guest's pause (freeze, last round, disk tail, device state, prepare = sending it and the target restoring it, of which receiverMs the target's part, of that overlayMs opening the received overlay as the disk and restoreMs the restore, commit = the decision and the target running the guest); timeline.* are wall-clock moments in ms after the guest froze: the last frame the viewer painted before it, the source hearing the target runs the guest, the gateway hearing domain:moved, its watch on the target accepted, the first frame from the target at the gateway, the first from it that changed the picture (gatewayFirstChange: the guest drew since the freeze; until then there is nothing to paint), the first frame the viewer painted after the first frame, and where the viewer's longest gap began (longestGapFrom: far below 0 when it fell in pre-copy, not in the move).";
const CLONE_METHOD =
  'domain:clone of the running desktop VM on its host, count 1: from the call to the clone running (guest paused for its capture, overlay copied, clone restored); each clone destroyed after.';

export async function runFleetBench(plan: Plan, log: (line: string) => void): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const samples = plan.mode === 'smoke' ? 1 : plan.mode === 'quick' ? 4 : 10;
  const results = emptyResults();
  const series: Record<string, number[]> = {};
  let relocationFigures: Pick<FleetFigures, 'relocation' | 'clone'>;
  log('starting two hypervisor processes, the gateway and Chromium');
  const stack = await startRelocationStack();
  try {
    const hosts = stack.hosts;
    const vm = await hosts[0].client!.create({
      appliance: 'desktop',
      kind: 'personal',
      owner: 'bench',
    });
    const viewer = await stack.open(vm.id);
    await waitPainted(viewer);
    await typeLine(viewer, 'while true; do date; sleep 0.05; done');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const gaps: number[] = [];
    const pauses: number[] = [];
    const totals: number[] = [];
    const bytes: number[] = [];
    const rounds: number[] = [];
    let reconnects = 0;
    for (let i = 0; i < samples; i++) {
      const from = hosts[i % 2]!;
      const to = hosts[(i + 1) % 2]!;
      const sample = await relocateWatched(from.client!, to, vm.id, viewer, stack.gateway);
      gaps.push(sample.viewerGapMs);
      pauses.push(sample.report.pausedMs);
      totals.push(sample.report.totalMs);
      bytes.push(sample.report.bytes);
      rounds.push(sample.report.rounds);
      reconnects = sample.reconnects;
      const phase = (name: string, ms: number) =>
        (series[`fleet.relocation.${name}`] ??= []).push(ms);
      for (const [name, ms] of Object.entries(sample.report.pause)) phase(`pause.${name}`, ms);
      for (const [name, ms] of Object.entries(sample.timeline)) phase(`timeline.${name}`, ms);
      log(`  pause ${JSON.stringify(sample.report.pause)}`);
      log(`  timeline after freeze ${JSON.stringify(sample.timeline)}`);
      log(
        `relocation ${i + 1}/${samples} ${from.client === hosts[0].client ? 'a→b' : 'b→a'}: ` +
          `viewer gap ${Math.round(sample.viewerGapMs)} ms, host pause ${sample.report.pausedMs} ms, ` +
          `${sample.report.totalMs} ms, ${(sample.report.bytes / 2 ** 20).toFixed(1)} MiB`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const home = hosts[samples % 2]!.client!;
    const clones: number[] = [];
    for (let i = 0; i < Math.max(1, Math.ceil(samples / 2)); i++) {
      const t = performance.now();
      const [clone] = await home.call('domain:clone', { id: vm.id, count: 1 });
      clones.push(performance.now() - t);
      log(`clone ${i + 1}: ${Math.round(clones.at(-1)!)} ms`);
      await home.destroy(clone!.id);
    }
    series['fleet.relocation.downtimeMs'] = gaps;
    series['fleet.clone.ms'] = clones;
    relocationFigures = {
      relocation: {
        downtimeMs: dist(gaps, METHOD, 0),
        hostPauseMs: dist(pauses, METHOD, 0),
        totalMs: dist(totals, METHOD, 0),
        bytes: Math.round(mean(bytes)),
        rounds: round(mean(rounds), 1),
        viewerReconnects: reconnects,
        phases: Object.fromEntries(
          Object.entries(series)
            .filter(
              ([name]) =>
                name.startsWith('fleet.relocation.pause.') ||
                name.startsWith('fleet.relocation.timeline.'),
            )
            .map(([name, values]) => [
              name.slice('fleet.relocation.'.length),
              dist(values, PHASES_METHOD, 0),
            ]),
        ),
        method: METHOD,
      },
      clone: { ms: dist(clones, CLONE_METHOD, 0), method: CLONE_METHOD },
    };
  } finally {
    await stack.close();
  }
  const failover = await measureGatewayFailover(samples, log);
  series['fleet.gatewayFailoverMs'] = failover.failoverMs;
  results.fleet = {
    ...relocationFigures,
    gatewayFailoverMs: dist(failover.failoverMs, FAILOVER_METHOD, 0),
    gatewayFailoverToOther: failover.toOther,
    hosts: failover.hosts,
    gateways: failover.gateways,
  };
  return {
    results,
    series,
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, fleet only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}
