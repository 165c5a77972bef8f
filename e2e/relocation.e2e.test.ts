// A desktop relocated between two hypervisor processes while a Chromium viewer watches it
// through the real gateway: the viewer never reconnects, the desktop keeps changing on screen,
// and typing after the move paints from the new host, where the VM now runs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  canvasHash,
  relocateWatched,
  startRelocationStack,
  typeLine,
  viewerRecord,
  waitPainted,
  type FleetViewer,
  type RelocationStack,
} from '../bench/fleet-stack.ts';

let stack: RelocationStack;

/** Waits (without a timing claim: a loaded machine paints slowly) until the viewer has painted more than `count` frames. */
async function paintsBeyond(viewer: FleetViewer, count: number, what: string): Promise<void> {
  await viewer.page
    .waitForFunction(
      (n) => (window as unknown as { __paints: unknown[] }).__paints.length > n,
      count,
      {
        timeout: 60_000,
        polling: 100,
      },
    )
    .catch(() => assert.fail(`${what}: fewer than ${count} paints in 60 s`));
}
before(async () => {
  stack = await startRelocationStack();
});
after(async () => {
  await stack?.close();
});

test('a watched desktop moves to another host; its viewer stays connected and typing works', async () => {
  const [a, b] = stack.hosts;
  const vm = await a.client!.create({ appliance: 'desktop', kind: 'personal', owner: 'ada' });
  const viewer = await stack.open(vm.id);
  await waitPainted(viewer);
  // Lines scrolling in the terminal keep the screen changing, so frames keep painting
  // (typed without Shift: the test types key by key).
  const painted = (await viewerRecord(viewer)).paintsAt.length;
  await typeLine(viewer, 'while true; do date; sleep 0.05; done');
  await paintsBeyond(viewer, painted + 10, 'the screen changes');

  const sample = await relocateWatched(a.client!, b, vm.id, viewer, stack.gateway);
  console.log(
    `moved: viewer gap ${Math.round(sample.viewerGapMs)} ms, host pause ` +
      `${sample.report.pausedMs} ms, ${sample.report.totalMs} ms total, ` +
      `${(sample.report.bytes / 2 ** 20).toFixed(1)} MiB`,
  );
  assert.equal(sample.reconnects, 0, 'the viewer never reconnected');
  assert.equal((await b.client!.get(vm.id)).state, 'running');
  assert.equal(
    (await a.client!.list()).some((d) => d.id === vm.id),
    false,
  );

  // The screen keeps changing from the new host, and typing reaches it.
  const after = (await viewerRecord(viewer)).paintsAt.length;
  await paintsBeyond(viewer, after + 10, 'frames from the target');
  await viewer.page.keyboard.press('Control+C');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const still = await canvasHash(viewer);
  await typeLine(viewer, 'echo typed-after-the-move');
  await viewer.page.waitForFunction(
    ([selector, hash]) => {
      const c = document.querySelector(selector as string) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let h = 2166136261;
      for (let i = 0; i < d.length; i += 7) h = Math.imul(h ^ d[i]!, 16777619);
      return h >>> 0 !== hash;
    },
    ['canvas[aria-label="Remote desktop"]', still] as const,
    { timeout: 15_000, polling: 50 },
  );
  assert.equal((await viewerRecord(viewer)).reconnects, 0);
});
