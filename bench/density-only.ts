// `npm run bench -- --only density`: the density ramp (bench/density.ts) alone, on the bare stack
// (hypervisor, gateway, Chromium; no portal), the standby pool off, memory for the cap.
import { loadavg, totalmem } from 'node:os';
import { densityFigures, measureDensity } from './density.ts';
import type { Plan } from './options.ts';
import { emptyResults, type RunOutput } from './run.ts';
import { desktopPaintedAt, startStack, waitConnected } from './stack.ts';
import { round } from './stats.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `--only density`: the ramp alone, on a stack with memory for the cap. */
export async function runDensityBench(
  plan: Plan,
  memoryBudgetMiB: number,
  log: (line: string) => void,
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const results = emptyResults();
  // Desktops hold 256 MiB of guest RAM plus VGA memory: room for the cap, within the machine.
  const budget = Math.min(
    Math.max(memoryBudgetMiB, plan.densityCap * 320 + 512),
    Math.floor((totalmem() / 2 ** 20) * 0.75),
  );
  log(`density only: cap ${plan.densityCap} desktops, memory budget ${budget} MiB`);
  const stack = await startStack({ memoryBudgetMiB: budget });
  try {
    stack.hv.host.enableStandby([]);
    const first = await stack.client.create({
      appliance: 'desktop',
      name: 'density-1',
      kind: 'personal',
      owner: 'bench',
    });
    const viewer = await stack.open(first.id);
    await desktopPaintedAt(viewer.page);
    await waitConnected(viewer);
    await sleep(1000);
    const ramp = await measureDensity(stack, viewer, plan, log);
    results.density = densityFigures(ramp, plan);
  } finally {
    await stack.close();
  }
  return {
    results,
    series: {},
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, density only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}
