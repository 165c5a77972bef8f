// What an idle VM costs the host: no display frames while nobody watches or nothing changes,
// and CPU reports to the scheduler about once a second instead of twenty times, until input
// wakes the guest.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { IDLE_CPU_REPORT_MS, CPU_REPORT_MS } from '../src/worker/cpu-governor.ts';
import { FrameRecorder, sleep, startTestHypervisor, type TestHypervisor } from './harness.ts';

const WINDOW_MS = 6_000;

describe('an idle VM', () => {
  let hv: TestHypervisor;
  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 1024 });
  });
  after(async () => {
    await hv?.close();
  });

  test('posts no frames without a viewer, none with an idle viewer, and reports CPU seldom', async (t) => {
    const info = await hv.client.create({ appliance: 'console', name: 'idle' });
    const domain = hv.host.get(info.id);
    assert.equal(await domain.guestRefreshed, true);
    await sleep(3_000);

    let frames = 0;
    let reports = 0;
    domain.on('frame', () => frames++);
    domain.on('cpu', () => reports++);
    await sleep(WINDOW_MS);
    t.diagnostic(`no viewer, ${WINDOW_MS} ms: ${frames} frames, ${reports} CPU reports`);
    assert.equal(frames, 0, 'no frame while nobody watches');
    // Busy, it would report every CPU_REPORT_MS; idle, about every IDLE_CPU_REPORT_MS.
    assert.ok(
      reports <= (2 * WINDOW_MS) / IDLE_CPU_REPORT_MS + 2,
      `${reports} CPU reports in ${WINDOW_MS} ms (busy rate: ${WINDOW_MS / CPU_REPORT_MS})`,
    );

    const recorder = new FrameRecorder(hv.client, info.id);
    await hv.client.watch(info.id);
    await recorder.waitFor((f) => f.keyframe, 10_000);
    await sleep(1_000);
    const afterKeyframe = recorder.frames.length;
    await sleep(WINDOW_MS / 2);
    t.diagnostic(`one viewer: ${recorder.frames.length - afterKeyframe} frames after the keyframe`);
    assert.equal(recorder.frames.length, afterKeyframe, 'an unchanged screen sends no frame');

    // A key wakes the guest: the scheduler hears of it within a busy report period, not a second.
    await sleep(IDLE_CPU_REPORT_MS / 2);
    const heard = once(domain, 'cpu');
    const keyAt = performance.now();
    hv.client.key(info.id, 'KeyA', true);
    hv.client.key(info.id, 'KeyA', false);
    await heard;
    const waited = performance.now() - keyAt;
    t.diagnostic(`CPU report ${Math.round(waited)} ms after a key`);
    assert.ok(
      waited < IDLE_CPU_REPORT_MS / 2,
      `report came ${Math.round(waited)} ms after the key`,
    );
    recorder.stop();
    await hv.client.destroy(info.id);
  });
});
