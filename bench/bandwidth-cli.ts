// The bandwidth part of the benchmark on its own (`npx tsx bench/bandwidth-cli.ts [seconds]`):
// a desktop VM from the golden snapshot, the real gateway and viewer in headless Chromium; idle,
// typing and a real window drag; then the same with a second, view-only viewer attached, to show
// how much encoding the two viewers share. Prints one JSON object.
import { loadavg } from 'node:os';
import { measureBandwidth } from './bandwidth.ts';
import { startStack, waitConnected, type Stack } from './stack.ts';
import { percentile } from './stats.ts';

const seconds = Number(process.argv[2] ?? 8);
const log = (line: string) => console.error(`[bandwidth] ${line}`);

async function regionCounts(stack: Stack): Promise<{ encoded: number; reused: number }> {
  const { values } = await stack.gateway.metrics.regions.get();
  const count = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { encoded: count('encoded'), reused: count('reused') };
}

const loadStart = loadavg()[0]!;
const stack = await startStack({ memoryBudgetMiB: 2048 });
try {
  const vm = await stack.client.create({ appliance: 'desktop', name: 'bench-bandwidth' });
  const viewer = await stack.open(vm.id);
  await waitConnected(viewer);
  await new Promise((r) => setTimeout(r, 3000));

  const passes: Record<string, unknown> = {};
  for (const viewers of [1, 2]) {
    if (viewers === 2) {
      const shadow = await stack.open(vm.id, '?mode=view&role=admin&name=Shadow&sub=admin-1');
      await waitConnected(shadow);
    }
    const before = await regionCounts(stack);
    const run = await measureBandwidth(stack, viewer, vm.id, seconds, log);
    const after = await regionCounts(stack);
    passes[`${viewers}-viewer${viewers > 1 ? 's' : ''}`] = {
      bytesPerSec: run.bytesPerSec,
      baselineFullBandPngBytesPerSec: run.baselinePerSec,
      dragMovedPx: run.dragMovedPx,
      dragEncodeMs: {
        p50: Number(percentile(run.dragEncodeMs, 50).toFixed(2)),
        p95: Number(percentile(run.dragEncodeMs, 95).toFixed(2)),
        n: run.dragEncodeMs.length,
      },
      imageRegions: {
        encoded: after.encoded - before.encoded,
        reused: after.reused - before.reused,
      },
    };
  }
  console.log(
    JSON.stringify(
      { seconds, loadavg: { start: loadStart, end: loadavg()[0] }, ...passes },
      null,
      2,
    ),
  );
} finally {
  await stack.close();
}
