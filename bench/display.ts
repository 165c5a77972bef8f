// `npm run bench -- --only display`: the figures the guest's display path decides, on the bare
// stack (hypervisor, gateway, the bench's viewer page in Chromium; no portal): input-to-paint on
// one desktop VM, bandwidth while idle, typing and dragging a window, the window-drag frame rate,
// and reconnect; then the same through noVNC on the same VM (bench/novnc.ts) when its image has
// x11vnc. Quick to run before and after a change to the guest.
import { loadavg } from 'node:os';
import { measureBandwidth } from './bandwidth.ts';
import { measureNoVnc } from './novnc.ts';
import type { Plan } from './options.ts';
import { attachPeerFigures, emptyResults, METHODS, RECONNECT_PAGE, type RunOutput } from './run.ts';
import { sampleInputToPaint } from './input-samples.ts';
import {
  desktopPaintedAfterNavigation,
  desktopPaintedAt,
  startStack,
  waitConnected,
} from './stack.ts';
import { dist, percentile, round } from './stats.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDisplayBench(
  plan: Plan,
  options: {
    memoryBudgetMiB: number;
    displayFps?: number;
    displayMaxFps?: number;
    smallUpdateTiles?: number;
    peers: boolean;
  },
  log: (line: string) => void,
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const series: Record<string, number[]> = {};
  const results = emptyResults();
  log('starting hypervisor, gateway and Chromium (display figures only)');
  const stack = await startStack({
    memoryBudgetMiB: options.memoryBudgetMiB,
    displayFps: options.displayFps,
    displayMaxFps: options.displayMaxFps,
    smallUpdateTiles: options.smallUpdateTiles,
  });
  log(
    `frame clock ${stack.hv.config.displayFps}/s, draw-driven frames ${stack.hv.config.displayMaxFps ? `up to ${stack.hv.config.displayMaxFps}/s` : 'off'}, gateway small updates ${options.smallUpdateTiles ?? 'default'} tiles`,
  );
  try {
    stack.hv.host.enableStandby([]);
    const vm = await stack.client.create({
      appliance: 'desktop',
      name: 'bench-display',
      kind: 'personal',
      owner: 'bench',
    });
    let viewer = await stack.open(vm.id);
    await desktopPaintedAt(viewer.page);
    await waitConnected(viewer);
    await sleep(1000);

    const oneVm = await sampleInputToPaint(viewer, plan.input, '1 VM', log);
    series['inputToPaintMs.oneVm'] = oneVm;
    results.inputToPaintMs.oneVm = dist(oneVm, METHODS.oneVm);

    const bandwidth = await measureBandwidth(stack, viewer, vm.id, plan.bandwidthSeconds, log);
    results.bandwidthBytesPerSec = {
      ...bandwidth.bytesPerSec,
      method:
        METHODS.bandwidth +
        ` ${plan.bandwidthSeconds} s per scenario. The drag moved the xterm up to ${bandwidth.dragMovedPx} px (its title bar tracked in the hypervisor's frames).`,
    };
    results.baselineFullBandPngBytesPerSec = {
      ...bandwidth.baselinePerSec,
      method: METHODS.baseline,
    };
    results.windowDragFps = {
      ...bandwidth.dragFps,
      displayFps: stack.hv.config.displayFps,
      method: METHODS.windowDragFps,
    };

    const reconnect: number[] = [];
    for (let i = 0; i < plan.reconnect; i++) {
      const next = await stack.open(vm.id, `?name=Browser%20${i + 2}&${RECONNECT_PAGE}`);
      reconnect.push(await desktopPaintedAfterNavigation(next.page));
      await viewer.close();
      viewer = next;
    }
    if (reconnect.length) {
      log(
        `reconnect: p50 ${percentile(reconnect, 50).toFixed(0)} ms, p95 ${percentile(reconnect, 95).toFixed(0)} ms, n=${reconnect.length}`,
      );
      series.reconnectMs = reconnect;
      results.reconnectMs = dist(reconnect, METHODS.reconnectMs + ` n=${reconnect.length}.`, 0);
    }
    await viewer.close();

    if (options.peers) {
      const novnc = await measureNoVnc(
        stack,
        vm.id,
        { input: plan.input, bandwidthSeconds: plan.bandwidthSeconds, reconnect: plan.reconnect },
        log,
        series,
      );
      attachPeerFigures(results, novnc);
    }
    const enc = stack.encodeMs;
    series.encodeMsPerFrame = enc;
    results.encodeMsPerFrame = {
      p50: round(percentile(enc, 50), 2),
      p95: round(percentile(enc, 95), 2),
      n: enc.length,
      method: METHODS.encodeMsPerFrame,
    };
  } finally {
    await stack.close();
  }
  return {
    results,
    series,
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, display only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}
