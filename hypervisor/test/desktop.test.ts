// Integration tests on the `desktop` appliance, resumed from its golden snapshot: the frame
// really is the desktop, typed keys reach the terminal, pause stops frames, clones are unique.
// The frame clock is set so slow that it never ticks during the suite: every frame after a
// keyframe comes because the guest drew.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DomainInfo } from '../src/api/index.ts';
import { FrameRecorder, sleep, startTestHypervisor, type TestHypervisor } from './harness.ts';
import { intersects, luminance, ScreenMirror } from './screen.ts';

// Where the golden desktop puts things at 1024x768 (see hypervisor/guest/desktop): JWM's panel
// along the bottom edge, and an xterm window with a light background near the top left.
const PANEL = { x: 450, y: 740, w: 400, h: 24 };
const BACKGROUND = { x: 900, y: 100, w: 100, h: 400 };
const TERMINAL_BODY = { x: 100, y: 300, w: 700, h: 200 };
const TERMINAL_TEXT = { x: 44, y: 130, w: 800, h: 120 };

/** One clock tick in about 17 minutes: longer than the whole suite. */
const SLOW_CLOCK_FPS = 0.001;

const typeKeys = (hv: TestHypervisor, id: string, codes: string[]) => {
  for (const code of codes) {
    hv.client.key(id, code, true);
    hv.client.key(id, code, false);
  }
};

describe('desktop appliance from its golden snapshot', () => {
  let hv: TestHypervisor;
  let desktop: DomainInfo;
  let recorder: FrameRecorder;
  const screen = new ScreenMirror();

  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 2048, displayFps: SLOW_CLOCK_FPS });
  });
  after(async () => {
    recorder?.stop();
    await hv?.close();
  });

  test('a new VM shows the desktop: panel, background and terminal', async (t) => {
    const started = performance.now();
    desktop = await hv.client.create({ appliance: 'desktop', name: 'pixels' });
    recorder = new FrameRecorder(hv.client, desktop.id);
    await hv.client.watch(desktop.id);
    const keyframe = await recorder.waitFor((f) => f.keyframe && f.width === 1024, 30_000);
    t.diagnostic(`create to first full frame: ${Math.round(performance.now() - started)} ms`);
    screen.apply(keyframe);
    assert.equal(screen.height, 768);

    const panel = screen.dominant(PANEL);
    assert.ok(panel.share > 0.9 && luminance(panel.color) < 70, `panel is dark: ${panel.color}`);
    const background = screen.dominant(BACKGROUND);
    assert.ok(background.share > 0.95, 'desktop background is one colour');
    assert.ok(
      background.color[2] > background.color[0] + 40,
      `background is blue: ${background.color}`,
    );
    const terminal = screen.dominant(TERMINAL_BODY);
    assert.ok(
      terminal.share > 0.95 && luminance(terminal.color) > 220,
      `terminal is light: ${terminal.color}`,
    );
  });

  test('keys typed through the scancode path change the terminal pixels', async () => {
    for (const frame of recorder.frames) screen.apply(frame);
    const before = screen.region(TERMINAL_TEXT);
    const seen = recorder.frames.length;
    // "echo hi" and Enter: the shell echoes the line and prints "hi" under it.
    typeKeys(hv, desktop.id, ['KeyE', 'KeyC', 'KeyH', 'KeyO', 'Space', 'KeyH', 'KeyI', 'Enter']);
    await recorder.waitFor(
      (f) =>
        recorder.frames.indexOf(f) >= seen && f.rects.some((r) => intersects(r, TERMINAL_TEXT)),
      15_000,
    );
    await sleep(1000);
    for (const frame of recorder.frames.slice(seen)) screen.apply(frame);
    assert.notDeepEqual(screen.region(TERMINAL_TEXT), before, 'terminal text area changed');
  });

  test('a frame follows a key without waiting for a frame clock tick', async () => {
    const seen = recorder.frames.length;
    typeKeys(hv, desktop.id, ['KeyX']);
    const frame = await recorder.waitFor(
      (f) =>
        recorder.frames.indexOf(f) >= seen && f.rects.some((r) => intersects(r, TERMINAL_TEXT)),
      15_000,
    );
    assert.equal(frame.keyframe, false, 'the change came as an update, not a keyframe');
    typeKeys(hv, desktop.id, ['Backspace']);
    const erased = recorder.frames.length;
    await recorder.waitFor(
      (f) =>
        recorder.frames.indexOf(f) >= erased && f.rects.some((r) => intersects(r, TERMINAL_TEXT)),
      15_000,
    );
  });

  test('a burst of key events sent at once all reach the terminal', async () => {
    typeKeys(hv, desktop.id, ['KeyC', 'KeyL', 'KeyE', 'KeyA', 'KeyR', 'Enter']);
    await sleep(2000);
    const letters = 'abcdefghijklmnopqrstuvwxyz'.split('').map((c) => `Key${c.toUpperCase()}`);
    typeKeys(hv, desktop.id, ['KeyE', 'KeyC', 'KeyH', 'KeyO', 'Space', ...letters, 'Enter']);
    await sleep(4000);
    for (const frame of recorder.frames) screen.apply(frame);
    // "~ $ echo abc…z" is 35 characters on the first line of the cleared terminal; dropped keys
    // would leave it shorter. Find where its dark text ends.
    let rightmost = 0;
    for (let y = 56; y < 80; y++) {
      for (let x = 44; x < 850; x++) {
        const [r, g, b] = screen.pixel(x, y);
        if (r < 100 && g < 100 && b < 100) rightmost = Math.max(rightmost, x);
      }
    }
    assert.ok(rightmost > 300, `the whole line was typed (text ends at x=${rightmost})`);
  });

  test('pause stops frames and unpause resumes them, the guest clock still current', async () => {
    assert.equal(await hv.host.get(desktop.id).guestRefreshed, true, 'clock set at creation');
    await hv.client.pause(desktop.id);
    const seen = recorder.frames.length;
    typeKeys(hv, desktop.id, ['KeyL', 'KeyS']);
    await sleep(5000);
    assert.equal(recorder.frames.length, seen, 'no frames while paused');
    await hv.client.unpause(desktop.id);
    typeKeys(hv, desktop.id, ['KeyL', 'KeyS', 'Enter']);
    await recorder.waitFor((f) => recorder.frames.indexOf(f) >= seen, 15_000);
    // A short pause is not followed by the agent setting the clock: the guest's own clock
    // kept time while it was paused (busybox date has one-second resolution).
    const info = await hv.host.get(desktop.id).agentRequest('info', []);
    const time = Number(/(?:^| )time=(\d+)/.exec(info)?.[1]);
    const skew = Math.abs(time - Date.now() / 1000);
    assert.ok(skew < 2.5, `guest clock is current after a 5 s pause (off by ${skew.toFixed(1)} s)`);
  });

  test('two clones of one snapshot get different machine-ids and the current time', async () => {
    const second = await hv.client.create({ appliance: 'desktop', name: 'clone' });
    const domains = [hv.host.get(desktop.id), hv.host.get(second.id)];
    const infos = await Promise.all(
      domains.map(async (domain) => {
        await domain.guestRefreshed;
        const payload = await domain.agentRequest('info', []);
        return Object.fromEntries(
          payload.split(' ').map((pair) => pair.split('=') as [string, string]),
        );
      }),
    );
    assert.match(infos[0]!.machine_id!, /^[0-9a-f]{32}$/);
    assert.notEqual(infos[0]!.machine_id, infos[1]!.machine_id);
    assert.notEqual(infos[0]!.hostname, infos[1]!.hostname);
    for (const info of infos) {
      const skew = Math.abs(Number(info.time) - Date.now() / 1000);
      assert.ok(skew < 10, `guest clock is current (off by ${skew.toFixed(1)} s)`);
    }
    await hv.client.destroy(second.id);
  });

  /** The pool's standby desktop, once it can be claimed (paused, its personal disk staged). */
  async function standbyDesktop(): Promise<DomainInfo> {
    const deadline = Date.now() + 120_000;
    while (!hv.host.info().standbyReady.includes('desktop')) {
      assert.ok(Date.now() < deadline, 'standby desktop became ready');
      await sleep(250);
    }
    const standby = hv.host.list().find((d) => d.name === 'standby-desktop');
    assert.ok(standby, 'the standby domain is listed');
    return standby;
  }
  const overlayOf = (id: string) => join(hv.config.dataDir, 'disks', `${id}.overlay`);

  test('a VM claimed from the standby pool is running at once with its own identity', async (t) => {
    hv.host.enableStandby(['desktop']);
    const standby = await standbyDesktop();
    assert.ok(existsSync(overlayOf(standby.id)), 'the standby stages a personal disk');
    const started = performance.now();
    const claimed = await hv.client.create({
      appliance: 'desktop',
      name: 'from-standby',
      owner: 'alice',
    });
    const claimedRecorder = new FrameRecorder(hv.client, claimed.id);
    await hv.client.watch(claimed.id);
    await claimedRecorder.waitFor((f) => f.keyframe && f.width === 1024, 10_000);
    t.diagnostic(
      `create to first full frame from standby: ${Math.round(performance.now() - started)} ms`,
    );
    claimedRecorder.stop();
    assert.equal(claimed.id, standby.id, 'the standby domain was claimed');
    assert.equal(claimed.name, 'from-standby');
    assert.equal(claimed.owner, 'alice');
    assert.equal(claimed.state, 'running');
    assert.equal(await hv.host.get(claimed.id).guestRefreshed, true);
    assert.equal((await hv.host.get(claimed.id).diskReport())?.kind, 'memory');
    const deadline = Date.now() + 10_000;
    while (existsSync(overlayOf(claimed.id))) {
      assert.ok(Date.now() < deadline, 'a non-personal claim removes the staged disk');
      await sleep(100);
    }
    await hv.client.destroy(claimed.id);
  });

  test('a personal desktop claimed from the standby pool writes to its own durable disk', async () => {
    hv.host.enableStandby(['desktop']);
    const standby = await standbyDesktop();
    const staged = (await hv.host.get(standby.id).diskReport())!;
    const claimed = await hv.client.create({
      appliance: 'desktop',
      kind: 'personal',
      owner: 'bob',
    });
    assert.equal(claimed.id, standby.id, 'the standby domain was claimed');
    assert.equal(claimed.kind, 'personal');
    assert.equal(claimed.state, 'running');
    const domain = hv.host.get(claimed.id);
    assert.equal(await domain.guestRefreshed, true);
    const disk = (await domain.diskReport())!;
    assert.equal(disk.kind, 'durable');
    assert.ok(disk.overlayBytes >= staged.overlayBytes, 'every block the standby wrote came along');
    assert.ok(existsSync(overlayOf(claimed.id)), 'its overlay file is on the host disk');
    hv.host.enableStandby([]);
    await hv.client.destroy(claimed.id);
    assert.equal(existsSync(overlayOf(claimed.id)), false, 'destroy removes the personal disk');
  });

  test("a resumed desktop's first frame is the desktop, not the emulator's power-on screen", async () => {
    const vm = await hv.client.create({ appliance: 'desktop', kind: 'personal', owner: 'carol' });
    assert.equal(await hv.host.get(vm.id).guestRefreshed, true);
    await hv.client.save(vm.id);
    const frames = new FrameRecorder(hv.client, vm.id);
    // Watched while the resume is still loading, as by a viewer that attaches meanwhile (the
    // gateway's watch of a suspended desktop resumes it).
    const resumed = hv.client.resume(vm.id);
    while (hv.host.get(vm.id).state !== 'starting') await sleep(5);
    await hv.client.watch(vm.id);
    assert.equal(hv.host.get(vm.id).state, 'starting', 'watched while still loading');
    assert.equal((await resumed).state, 'running');
    const first = await frames.waitFor(() => true, 30_000);
    frames.stop();
    assert.ok(first.keyframe, 'the first frame is a keyframe');
    assert.deepEqual([first.width, first.height], [1024, 768]);
    const restored = new ScreenMirror();
    restored.apply(first);
    const panel = restored.dominant(PANEL);
    assert.ok(panel.share > 0.9 && luminance(panel.color) < 70, `panel is dark: ${panel.color}`);
    await hv.client.destroy(vm.id);
  });

  test('a thumbnail is available without a viewer', async () => {
    await hv.client.unwatch(desktop.id);
    const png = await hv.client.thumbnail(desktop.id, 256);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal(Buffer.from(png).readUInt32BE(16), 256, 'PNG is 256 pixels wide');
  });
});
