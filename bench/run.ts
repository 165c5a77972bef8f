// The benchmark scenarios, run in order against one real stack (see stack.ts). Every figure
// carries a `method` string: the same text goes into the README's Performance section.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { join } from 'node:path';
import type { DomainInfo } from '@raydesk/hypervisor/api';
import { internalsOf } from '@raydesk/hypervisor/testing';
import { measureBandwidth } from './bandwidth.ts';
import { FrameTap } from './baseline.ts';
import { runCpuFigures, type CpuFigures } from './cpu.ts';
import { densityFigures, measureDensity, type DensityFigures } from './density.ts';
import type { DesktopIoFigures } from './desktop-io-figures.ts';
import type { FleetFigures } from './fleet-figures.ts';
import type { RecordingFigures } from './recording-figures.ts';
import { measureBareMips, measureWorkerMips } from './mips.ts';
import { measureNoVnc, type NoVncFigures } from './novnc.ts';
import {
  ATTACH_PHASES_METHOD,
  attachTimeline,
  reconnectPhases,
  type AttachPhases,
  type AttachTimeline,
} from './attach-phases.ts';
import { portalTimeToDesktop, releaseStandby, startPortalStack } from './portal.ts';
import type { Plan } from './options.ts';
import {
  desktopPaintedAfterNavigation,
  focusCanvas,
  inputSample,
  waitConnected,
  type Region,
  type Stack,
} from './stack.ts';
import { dist, mean, percentile, round, type Dist } from './stats.ts';

/** The reconnect page's query: its attach token with the page, joined early (as the portal's). */
export const RECONNECT_PAGE = 'ticket=page&early=1';

export const METHODS = {
  timeToDesktopMs:
    "Through the real portal (Next.js production server web/server.mjs, throwaway SQLite database), gateway and hypervisor, in headless Chromium: for each sample a fresh user (created in the portal database) signs in and, having no VM, clicks \"Open desktop\" on the home page; the portal creates the personal desktop VM through the hypervisor and opens its viewer page. Timed in the page, from the click event to the first complete frame painted in the viewer's canvas that shows the desktop (the paint after which the viewer acknowledges a full frame to the gateway). Between samples the host is left until its standby desktop VM is ready (at most 90 s), as for a user arriving at a host at rest. A standby desktop is made the screen size last asked for on the host, here the previous user's window, so from the second sample on the desktop opens at its window's size.",
  resumeToDesktopMs:
    'The last time-to-desktop user\'s personal desktop, through the portal: its viewer is closed (the page goes back to the home page), the VM is suspended with the hypervisor\'s save as the idle timer does (state to disk, no RAM held), and once the home page shows it "Suspended" (the portal\'s housekeeping sync) the user clicks "Resume and open desktop"; the portal resumes it through the hypervisor and opens the viewer. Timed in the page from the click event to the first complete frame painted in the canvas that shows the desktop.',
  reconnectMs:
    'A second browser context opens the viewer of a running, watched desktop VM (hot-desk takeover of the control session); from the page’s navigation start (its time origin: when the browser began loading it) to its first complete frame painted in the canvas, both on the page’s clock, so that the bench’s own CDP traffic to Chromium is outside the figure. As the portal’s desktop page, the page carries the attach token, and its first script joins the gateway with it before the viewer’s script has loaded (early attach); the viewer adopts that connection.',
  inputToPaint:
    "A real key press through Chromium's input pipeline (CDP), alternately 'x' and Backspace into the desktop's xterm; from the page's keydown event to the paint after which the canvas pixels (the screen above the panel) differ. Both timestamps are taken in the page. The viewer page keeps the guest's screen size (?follow=off): keys typed while the screen follows a new window size wait for it (desktopIo.firstFollowMs).",
  oneVm:
    "One desktop VM running: the last time-to-desktop user's, sampled once its screen has the portal window's size (a resize holds keys for seconds; desktopIo.firstFollowMs measures it).",
  eightVms: 'Eight desktop VMs running (idle desktops besides the measured one).',
  busyNeighbour:
    'A second desktop VM runs `while :; do :; done`, typed into its xterm as key events through the hypervisor API.',
  bandwidth:
    'Bytes of WebSocket frames received by the page (Chromium DevTools protocol), divided by the scenario time. idle: nothing happens; typing: a line typed at 10 keys/s; windowDrag: the xterm title bar pressed and the mouse swept back and forth (one sweep a second, 30 moves a second) through the viewer.',
  windowDragFps:
    "During the windowDrag bandwidth scenario (30 pointer moves a second): hypervisor is the number of the hypervisor's display frames in which the xterm's title bar stood somewhere new, viewer the number of frames the viewer painted, each per second of the drag. The hypervisor's frame-rate cap caps both: DISPLAY_MAX_FPS for frames sent when the guest drew, the frame clock (displayFps) when those are off.",
  baseline:
    "The same scenarios' frames, taken from the hypervisor's display channel, each encoded as one PNG (node-canvas defaults) of its whole dirty row band at full screen width; bytes divided by the same scenario time.",
  encodeMsPerFrame:
    "The gateway's own per-frame diff+encode time for one viewer (its encode histogram's observations), over every frame sent during the run.",
  snapshot:
    "Personal desktop VM after use (the time-to-desktop, typing, drag and reconnect scenarios): saveMs is the hypervisor save call, i.e. a suspend (disk overlay settled, the memory pages that differ from the golden snapshot and the device state captured, written uncompressed, fsync), restoreMs the resume of the suspended VM as the portal's open-desktop call makes it, measured on the server (hypervisor start until the domain runs again, plus the portal's database update; median over the resume iterations), stateBytes the state file size (a delta against the golden snapshot); overlayBytes is the guest data in its durable disk overlay (blocks written since the golden snapshot plus those the snapshot itself carries) and overlayFileBytes that overlay file on the host disk.",
  coldBootMs:
    'Power-on to the guest agent reporting ready, measured once when the golden snapshot was built and read from its manifest (~/.cache/raydesk/golden/*.json, newest per appliance).',
  mips: 'Millions of guest instructions per second for the same workload (a busybox shell busy loop on the console appliance, cold-booted): bare v86 on the main thread with no Raydesk code, against v86 in a Raydesk domain worker; back to back in the same run.',
};

export interface BenchResults {
  /** Live relocation and cloning between two hosts (`--only fleet`, bench/fleet.ts). */
  fleet: FleetFigures | null;
  /** Session recording size, cost and seek (`--only recording`, bench/recording.ts). */
  recording: RecordingFigures | null;
  /** Clipboard, files and resize as the viewer feels them (`--only desktop-io`). */
  desktopIo: DesktopIoFigures | null;
  timeToDesktopMs: Dist | null;
  /** Where timeToDesktop and reconnect spend their time (bench/attach-phases.ts). */
  attachPhasesMs: {
    timeToDesktop: AttachTimeline | null;
    reconnect: AttachTimeline | null;
    method: string;
  } | null;
  resumeToDesktopMs: Dist | null;
  reconnectMs: Dist | null;
  inputToPaintMs: {
    oneVm: Dist | null;
    eightVms: Dist | null;
    busyNeighbour: Dist | null;
    /** N busy console neighbours, scheduler on and off (bench/cpu.ts). */
    busyNeighbours: CpuFigures['busyNeighbours'];
    method: string;
  };
  bandwidthBytesPerSec: { idle: number; typing: number; windowDrag: number; method: string } | null;
  /** Frames a second while a window is dragged (bench/bandwidth.ts). */
  windowDragFps: { hypervisor: number; viewer: number; displayFps: number; method: string } | null;
  baselineFullBandPngBytesPerSec: {
    idle: number;
    typing: number;
    windowDrag: number;
    method: string;
  } | null;
  encodeMsPerFrame: { p50: number; p95: number; n: number; method: string } | null;
  snapshot: {
    saveMs: number;
    restoreMs: number;
    stateBytes: number;
    /** The personal desktop's disk overlay after the run's session (guest data, then file). */
    overlayBytes: number;
    overlayFileBytes: number;
    n: number;
    method: string;
  } | null;
  coldBootMs: {
    console: number | null;
    desktop: number | null;
    browser: number | null;
    method: string;
  };
  /** Desktops per host, neighbours active and idle (bench/density.ts), and idle CPU per VM. */
  density: DensityFigures | null;
  mips: { bare: number; hypervisor: number; method: string } | null;
  /** The same figures through other remote-desktop stacks, same run, same VM (bench/novnc.ts). */
  peers: { novnc: NoVncFigures | null };
  /** Raydesk's figure over noVNC's, for each figure both measured. */
  vsNoVnc: {
    inputToPaintP50: number | null;
    inputToPaintP95: number | null;
    typingBytes: number | null;
    windowDragBytes: number | null;
    reconnectP50: number | null;
    reconnectP95: number | null;
    method: string;
  } | null;
}

export interface RunOutput {
  results: BenchResults;
  /** Raw samples per latency series, for the chart. */
  series: Record<string, number[]>;
  elapsedMs: number;
  mode: string;
  /** 1-minute load average at the start and the end: the machine may be shared. */
  loadavg: { start: number; end: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The screen above JWM's panel: where the xterm's echo shows up. */
const ABOVE_PANEL: Region = { x: 0, y: 0, w: 1024, h: 730 };

export function readColdBoots(
  dir = join(homedir(), '.cache', 'raydesk', 'golden'),
): Record<string, number | null> {
  const newest: Record<string, { at: string; ms: number }> = {};
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    /* no golden snapshots yet */
  }
  for (const f of files) {
    try {
      const m = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        appliance: string;
        coldBootMs: number;
        createdAt: string;
      };
      const seen = newest[m.appliance];
      if (!seen || m.createdAt > seen.at)
        newest[m.appliance] = { at: m.createdAt, ms: m.coldBootMs };
    } catch {
      /* unreadable manifest */
    }
  }
  const out: Record<string, number | null> = {};
  for (const a of ['console', 'desktop', 'browser']) out[a] = newest[a]?.ms ?? null;
  return out;
}

/** Every figure unmeasured; each scenario fills in its own. */
export function emptyResults(): BenchResults {
  return {
    fleet: null,
    recording: null,
    desktopIo: null,
    timeToDesktopMs: null,
    attachPhasesMs: null,
    resumeToDesktopMs: null,
    reconnectMs: null,
    inputToPaintMs: {
      oneVm: null,
      eightVms: null,
      busyNeighbour: null,
      busyNeighbours: null,
      method: METHODS.inputToPaint,
    },
    bandwidthBytesPerSec: null,
    windowDragFps: null,
    baselineFullBandPngBytesPerSec: null,
    encodeMsPerFrame: null,
    snapshot: null,
    coldBootMs: {
      ...(readColdBoots() as {
        console: number | null;
        desktop: number | null;
        browser: number | null;
      }),
      method: METHODS.coldBootMs,
    },
    density: null,
    mips: null,
    peers: { novnc: null },
    vsNoVnc: null,
  };
}

export async function runBench(
  plan: Plan,
  memoryBudgetMiB: number,
  log: (line: string) => void,
  options: { peers: boolean } = { peers: true },
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const series: Record<string, number[]> = {};
  const results = emptyResults();
  let cpuFigures: CpuFigures | null = null;

  log('starting hypervisor, gateway and Chromium');
  const { stack, portal } = await startPortalStack({ memoryBudgetMiB, log });
  const created: string[] = [];
  const createDesktop = async (name: string): Promise<DomainInfo> => {
    // Personal, as a user's desktop is: its disk is a durable overlay and save is a suspend.
    const info = await stack.client.create({
      appliance: 'desktop',
      name,
      kind: 'personal',
      owner: 'bench',
    });
    created.push(info.id);
    return info;
  };
  try {
    // The golden state is loaded (and kept) once per host process; load it before timing.
    log('loading the desktop golden snapshot');
    await internalsOf(stack.hv.host).golden.state('desktop');

    // ---- time to desktop ------------------------------------------------------------------
    // Through the portal (bench/portal.ts); a PNG of the page at its first paint goes to bench-results/.
    const shot = join(
      import.meta.dirname,
      '..',
      'bench-results',
      `portal-first-paint-${plan.mode}.png`,
    );
    const ttdRun = await portalTimeToDesktop(
      stack,
      portal,
      Math.max(1, plan.timeToDesktop),
      log,
      shot,
    );
    const ttd = ttdRun.samples;
    const portalUser = ttdRun.user;
    const standby = portal.standbyDesktop
      ? `Standby pool on, as in the daemon (STANDBY_APPLIANCES=${stack.hv.config.standbyAppliances.join(',')}; released after these samples): ${ttdRun.standbyClaims} of ${ttd.length} clicks found a standby desktop VM ready.`
      : 'Standby pool off: every VM is restored from the golden snapshot.';
    series.timeToDesktopMs = ttd;
    results.timeToDesktopMs = dist(
      ttd,
      METHODS.timeToDesktopMs + ` ${standby} n=${ttd.length}.`,
      0,
    );
    // The portal's viewer asked the guest for its window's size; keys wait while a resize runs
    // (desktopIo.firstFollowMs measures that), so the input figures start once it is done.
    const followStarted = performance.now();
    const followed = await portalUser.screenFollowed();
    // The guest holds keys until its window manager has restarted on the new size; a size query
    // waits behind the resize in the guest agent.
    await stack.client.screen(ttdRun.domainId);
    log(
      `portal desktop at its window's ${followed.width}x${followed.height}, settled ${(performance.now() - followStarted).toFixed(0)} ms after the last time-to-desktop sample`,
    );
    // The figures below are measured without standby VMs (they hold RAM, and refills use CPU).
    await releaseStandby(stack);
    // The scenarios below drive that desktop through the bench's bare viewer page (takeover).
    let vm = await stack.client.get(ttdRun.domainId);
    let viewer = await stack.open(vm.id);
    await waitConnected(viewer);

    // ---- input to paint, one VM ----------------------------------------------------------
    const sampleInput = async (n: number, label: string): Promise<number[]> => {
      await focusCanvas(viewer);
      const out: number[] = [];
      let lost = 0;
      for (let i = 0; i < n; i++) {
        const ms = await inputSample(viewer, i % 2 ? 'Backspace' : 'x', ABOVE_PANEL);
        if (ms >= 0) out.push(ms);
        else lost++;
        await sleep(Math.random() * 100);
      }
      if (i_odd(n)) {
        // leave the prompt empty: the last sample typed an 'x'
        await viewer.page.keyboard.press('Backspace');
        await sleep(150);
      }
      log(
        `inputToPaint ${label}: p50 ${percentile(out, 50).toFixed(1)} ms, p95 ${percentile(out, 95).toFixed(1)} ms, n=${out.length}${lost ? `, ${lost} discarded (no change within 5 s)` : ''}`,
      );
      return out;
    };
    await sleep(1000);
    const oneVm = await sampleInput(plan.input, '1 VM');
    series['inputToPaintMs.oneVm'] = oneVm;
    results.inputToPaintMs.oneVm = dist(oneVm, METHODS.oneVm);

    if (plan.mode !== 'smoke') {
      // ---- bandwidth, with the naive PNG baseline from the same frames ---------------------
      const bandwidth = await measureBandwidth(stack, viewer, vm.id, plan.bandwidthSeconds, log);
      const bw = bandwidth.bytesPerSec;
      const base = bandwidth.baselinePerSec;
      if (bandwidth.dragMovedPx < 20) log('warning: the window did not follow the drag');
      results.bandwidthBytesPerSec = {
        ...bw,
        method:
          METHODS.bandwidth +
          ` ${plan.bandwidthSeconds} s per scenario. The drag moved the xterm up to ${bandwidth.dragMovedPx} px (its title bar tracked in the hypervisor's frames).`,
      };
      results.baselineFullBandPngBytesPerSec = { ...base, method: METHODS.baseline };
      results.windowDragFps = {
        ...bandwidth.dragFps,
        displayFps: stack.hv.config.displayFps,
        method: METHODS.windowDragFps,
      };

      // ---- reconnect (takeover by a second browser context) -------------------------------
      const reconnect: number[] = [];
      const reconnectSteps: AttachPhases[] = [];
      const reconnectLoad = loadavg()[0]!;
      for (let i = 0; i < plan.reconnect; i++) {
        const next = await stack.open(vm.id, `?name=Browser%20${i + 2}&${RECONNECT_PAGE}`);
        reconnect.push(await desktopPaintedAfterNavigation(next.page));
        reconnectSteps.push(await reconnectPhases(next, stack.upgradesAt));
        await viewer.close();
        viewer = next;
      }
      results.attachPhasesMs = {
        timeToDesktop: attachTimeline(ttdRun.phases, ttdRun.load),
        reconnect: attachTimeline(reconnectSteps, { start: reconnectLoad, end: loadavg()[0]! }),
        method: ATTACH_PHASES_METHOD,
      };
      log(
        `reconnect: p50 ${percentile(reconnect, 50).toFixed(0)} ms, p95 ${percentile(reconnect, 95).toFixed(0)} ms, n=${reconnect.length}`,
      );
      series.reconnectMs = reconnect;
      results.reconnectMs = dist(reconnect, METHODS.reconnectMs + ` n=${reconnect.length}.`, 0);

      // ---- the noVNC peer on the same VM, Raydesk's viewer closed meanwhile ----------------
      if (options.peers) {
        await viewer.close();
        const novnc = await measureNoVnc(
          stack,
          vm.id,
          {
            input: plan.input,
            bandwidthSeconds: plan.bandwidthSeconds,
            reconnect: plan.reconnect,
          },
          log,
          series,
        );
        attachPeerFigures(results, novnc);
        viewer = await stack.open(vm.id);
        await waitConnected(viewer);
      }

      // ---- suspend / resume -----------------------------------------------------------------
      const resume: number[] = [];
      const saves: number[] = [];
      const restores: number[] = [];
      let stateBytes = 0;
      const disk = await stack.client.disk(vm.id);
      log(
        `personal disk after the session: ${(disk.overlayBytes / 2 ** 20).toFixed(1)} MiB written, overlay file ${(disk.fileBytes / 2 ** 20).toFixed(1)} MiB`,
      );
      for (let i = 0; i < plan.resume; i++) {
        // Every viewer closes (the bench's, then the portal user's page goes home), then the
        // desktop is suspended; the user resumes it with "Open desktop" (bench/portal.ts).
        await viewer.close();
        await portalUser.leaveViewer();
        const t = performance.now();
        const saved = await stack.client.save(vm.id);
        saves.push(performance.now() - t);
        stateBytes = saved.bytes;
        const opened = await portalUser.openDesktop('Suspended');
        restores.push(opened.serverMs);
        resume.push(opened.ms);
        log(
          `save ${saves.at(-1)!.toFixed(0)} ms (${(stateBytes / 2 ** 20).toFixed(1)} MiB), resume call ${opened.serverMs} ms, resume to desktop (portal) ${opened.ms.toFixed(0)} ms`,
        );
      }
      if (plan.resume > 0) {
        vm = await stack.client.get(vm.id);
        viewer = await stack.open(vm.id);
      }
      if (resume.length) {
        series.resumeToDesktopMs = resume;
        results.resumeToDesktopMs = dist(
          resume,
          METHODS.resumeToDesktopMs + ` n=${resume.length}.`,
          0,
        );
        results.snapshot = {
          saveMs: Math.round(percentile(saves, 50)),
          restoreMs: Math.round(percentile(restores, 50)),
          stateBytes,
          overlayBytes: disk.overlayBytes,
          overlayFileBytes: disk.fileBytes,
          n: saves.length,
          method: METHODS.snapshot,
        };
      }
      await waitConnected(viewer);

      // ---- busy neighbour -------------------------------------------------------------------
      const busy = await createDesktop('busy');
      // Type the loop once the neighbour's desktop is on screen; check it runs (its MIPS go up)
      // and type it again if the keys were lost.
      const busyTap = await FrameTap.attach(stack.client, busy.id);
      await busyTap.detach();
      await sleep(3000);
      let busyInfo = await stack.client.get(busy.id);
      for (let attempt = 0; attempt < 3; attempt++) {
        await typeBusyLoop(stack, busy.id);
        for (let second = 0; second < 8 && busyInfo.mips < 20; second++) {
          await sleep(1000);
          busyInfo = await stack.client.get(busy.id);
        }
        if (busyInfo.mips >= 20) break;
        log(`busy neighbour at ${busyInfo.mips.toFixed(0)} MIPS; typing the loop again`);
        stack.client.key(busy.id, 'ControlLeft', true);
        stack.client.key(busy.id, 'KeyC', true);
        stack.client.key(busy.id, 'KeyC', false);
        stack.client.key(busy.id, 'ControlLeft', false);
        await sleep(500);
      }
      log(
        `busy neighbour ${busy.id}: ${busyInfo.cpuPercent.toFixed(0)}% CPU, ${busyInfo.mips.toFixed(0)} MIPS`,
      );
      const busySamples = await sampleInput(plan.input, 'busy neighbour');
      series['inputToPaintMs.busyNeighbour'] = busySamples;
      results.inputToPaintMs.busyNeighbour = dist(
        busySamples,
        METHODS.busyNeighbour +
          ` Neighbour at ${busyInfo.cpuPercent.toFixed(0)}% of a core, ${busyInfo.mips.toFixed(0)} MIPS.`,
      );
      await stack.client.destroy(busy.id);

      // ---- N busy neighbours with the scheduler on and off, idle CPU per VM (bench/cpu.ts) --
      cpuFigures = await runCpuFigures(stack, plan.cpu, log, series);

      // ---- density ramp (neighbours active and idle) and eight VMs -------------------------
      const ramp = await measureDensity(stack, viewer, plan, log, {
        created,
        oneVm,
        minVms: plan.eightVms,
        onStep: async (running) => {
          if (running !== plan.eightVms) return;
          const s = await sampleInput(plan.input, '8 VMs');
          series['inputToPaintMs.eightVms'] = s;
          results.inputToPaintMs.eightVms = dist(s, METHODS.eightVms);
        },
      });
      results.density = densityFigures(ramp, plan);
    }

    // ---- encode time (every frame the gateway encoded so far) ------------------------------
    const enc = stack.encodeMs;
    series.encodeMsPerFrame = enc;
    results.encodeMsPerFrame = {
      p50: round(percentile(enc, 50), 2),
      p95: round(percentile(enc, 95), 2),
      n: enc.length,
      method: METHODS.encodeMsPerFrame,
    };
  } finally {
    log('stopping the stack');
    await portal.close();
    await stack.close();
  }

  if (plan.mipsSeconds > 0) {
    log(`mips: bare v86 (cold boot of console, then ${plan.mipsSeconds} s)`);
    const bare = await measureBareMips(plan.mipsSeconds);
    log(`mips: bare ${bare.toFixed(0)}; now a Raydesk worker`);
    const worker = await measureWorkerMips(plan.mipsSeconds);
    log(`mips: hypervisor worker ${worker.toFixed(0)}`);
    results.mips = {
      bare: round(bare),
      hypervisor: round(worker),
      method: METHODS.mips + ` ${plan.mipsSeconds} s each.`,
    };
  }
  void mean;
  attachCpuFigures(results, cpuFigures);
  return {
    results,
    series,
    elapsedMs: performance.now() - started,
    mode: plan.mode,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}

const i_odd = (n: number) => n % 2 === 1;

/**
 * The CPU figures live under the issue's top-level keys: busy neighbours are input-to-paint
 * latencies, idle CPU per VM is a density cost. Without a density run they get a density entry
 * of their own that says so.
 */
export function attachCpuFigures(results: BenchResults, cpu: CpuFigures | null): void {
  if (!cpu) return;
  results.inputToPaintMs.busyNeighbours = cpu.busyNeighbours;
  results.density ??= {
    maxDesktopVms: 0,
    samples: [],
    stoppedBy: 'not measured in this run',
    maxIdleDesktopVms: 0,
    idleSamples: [],
    idleStoppedBy: 'not measured in this run',
    rssPerVmMiB: 0,
    cap: 0,
    seconds: 0,
    method: 'Density was not measured in this run; only idle CPU per VM was.',
    idleCpuPercent: null,
  };
  results.density.idleCpuPercent = cpu.idleCpuPercent;
}

/**
 * Types `while :; do :; done` and Enter into the VM's focused xterm as key events through the
 * hypervisor API, paced like a person typing (a burst of events all at once was not echoed).
 */
async function typeBusyLoop(stack: Stack, id: string): Promise<void> {
  const events: [string, boolean][] = [];
  const key = (code: string) => events.push([code, true], [code, false]);
  const colon = () => {
    events.push(['ShiftLeft', true]);
    key('Semicolon');
    events.push(['ShiftLeft', false]);
  };
  const word = (w: string) => {
    for (const ch of w) key(`Key${ch.toUpperCase()}`);
  };
  word('while');
  key('Space');
  colon();
  key('Semicolon');
  key('Space');
  word('do');
  key('Space');
  colon();
  key('Semicolon');
  key('Space');
  word('done');
  key('Enter');
  for (const [code, down] of events) {
    stack.client.key(id, code, down);
    await sleep(25);
  }
}

/** Raydesk's figure divided by noVNC's (below 1: Raydesk is lower); null if either is missing. */
const ratio = (raydesk: number | undefined, novnc: number | undefined) =>
  raydesk === undefined || novnc === undefined || !novnc ? null : round(raydesk / novnc, 2);

export function attachPeerFigures(results: BenchResults, novnc: NoVncFigures | null): void {
  results.peers = { novnc };
  if (!novnc) {
    results.vsNoVnc = null;
    return;
  }
  const one = results.inputToPaintMs.oneVm;
  const bw = results.bandwidthBytesPerSec;
  results.vsNoVnc = {
    inputToPaintP50: ratio(one?.p50, novnc.inputToPaintMs?.p50),
    inputToPaintP95: ratio(one?.p95, novnc.inputToPaintMs?.p95),
    typingBytes: ratio(bw?.typing, novnc.bandwidthBytesPerSec?.typing),
    // Bytes of a drag that did not move the window through noVNC are not a drag's bytes.
    windowDragBytes:
      novnc.dragMovedPx.novnc >= 20
        ? ratio(bw?.windowDrag, novnc.bandwidthBytesPerSec?.windowDrag)
        : null,
    reconnectP50: ratio(results.reconnectMs?.p50, novnc.reconnectMs?.p50),
    reconnectP95: ratio(results.reconnectMs?.p95, novnc.reconnectMs?.p95),
    method:
      "Each Raydesk figure divided by noVNC's from the same run (peers.novnc); below 1 means Raydesk is faster or sends fewer bytes. windowDragBytes is null when the check drag through noVNC did not move the window (peers.novnc.dragMovedPx).",
  };
}
