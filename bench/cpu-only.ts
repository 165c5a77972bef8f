// `npm run bench -- --only cpu`: just the CPU figures (bench/cpu.ts) on the bare stack (hypervisor,
// gateway, Chromium; no portal), with the standby pool off so no background restore skews them.
import { loadavg } from 'node:os';
import { runCpuFigures } from './cpu.ts';
import type { Plan } from './options.ts';
import { attachCpuFigures, emptyResults, type RunOutput } from './run.ts';
import { startStack } from './stack.ts';
import { round } from './stats.ts';

export async function runCpuBench(
  plan: Plan,
  memoryBudgetMiB: number,
  log: (line: string) => void,
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const series: Record<string, number[]> = {};
  const results = emptyResults();
  log('starting hypervisor, gateway and Chromium (CPU figures only)');
  const stack = await startStack({ memoryBudgetMiB });
  try {
    stack.hv.host.enableStandby([]);
    attachCpuFigures(results, await runCpuFigures(stack, plan.cpu, log, series));
  } finally {
    await stack.close();
  }
  return {
    results,
    series,
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, cpu only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}
