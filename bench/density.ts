// Density: how many desktop VMs one host carries while input on the first stays within a 150 ms
// p95. Desktops are added one at a time; at each step input-to-paint is sampled on the first VM
// twice: with every other desktop idle, then with every other desktop active (a user typing two
// keys a second into its terminal through the gateway, watched by a headless viewer that
// receives and acknowledges its frames, so the terminal scrolls and the host captures, encodes and
// sends what it draws). `npm run bench -- --only density` runs only this (bench/density-only.ts).
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { mintAttachToken } from '@raydesk/gateway/attach-token';
import { sampleInputToPaint } from './input-samples.ts';
import type { Plan } from './options.ts';
import type { CpuFigures } from './cpu.ts';
import type { Stack, Viewer } from './stack.ts';
import { percentile, round, slope } from './stats.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const P95_LIMIT_MS = 150;
/** Two keys a second: a letter, then Enter (the shell answers with a line: the terminal scrolls). */
const TYPING_KEYS = ['KeyA', 'Enter'] as const;
const KEY_GAP_MS = 500;

export const DENSITY_METHOD =
  "Desktop VMs added one at a time (personal desktops from the golden snapshot). After each, input-to-paint is sampled on the first VM (the inputToPaintMs probe) twice: idle, with every other desktop left alone, and active, with every other desktop typed into at two keys a second (a letter, then Enter: its terminal prints a line and scrolls), each through the gateway by a headless viewer that receives and acknowledges its frames as a browser does. maxDesktopVms is the most VMs for which the active p95 stayed at or under 150 ms, maxIdleDesktopVms the same with idle neighbours; each ramp stops at its first step over 150 ms, at the cap, at the memory budget or at the time limit. hostCpuPercent is this process (hypervisor, its VM workers, gateway) over the two seconds before the active samples, in percent of one core. rssPerVmMiB is the least-squares slope of this process's RSS over the VM count.";

export interface DensityStep {
  vms: number;
  p50: number;
  p95: number;
  n: number;
  rssMiB: number;
  hostCpuPercent: number;
}

export interface DensityRamp {
  /** Active: every desktop but the measured one is typed into. */
  maxDesktopVms: number;
  samples: DensityStep[];
  stoppedBy: string;
  /** The same ramp with the other desktops idle. */
  maxIdleDesktopVms: number;
  idleSamples: DensityStep[];
  idleStoppedBy: string;
  rssPerVmMiB: number;
  cap: number;
  seconds: number;
}

/** A user at another desktop: a gateway viewer that acks every frame and types when told. */
class Typist {
  private timer: NodeJS.Timeout | null = null;
  private next = 0;
  frames = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('display:update', (update: { seq: number; last: boolean }) => {
      if (!update.last) return;
      this.frames++;
      socket.emit('frame:ack', { seq: update.seq });
    });
  }

  static async attach(stack: Stack, vm: string): Promise<Typist> {
    const user = `density-${randomUUID()}`;
    const token = await mintAttachToken(stack.attachSecret, {
      sub: user,
      vm,
      mode: 'control',
      name: user,
      role: 'user',
    });
    const socket = io(stack.gatewayUrl, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token, clientId: randomUUID(), protocol: 1 },
    });
    const typist = new Typist(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame from ${vm} within 60 s`)), 60_000);
      socket.once('connect_error', (error) => reject(error));
      const check = setInterval(() => {
        if (typist.frames === 0) return;
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }, 50);
    });
    return typist;
  }

  start(): void {
    this.timer ??= setInterval(() => {
      const code = TYPING_KEYS[this.next++ % TYPING_KEYS.length]!;
      this.socket.emit('input:key', { code, down: true });
      this.socket.emit('input:key', { code, down: false });
    }, KEY_GAP_MS);
  }

  /** Stops after a full line (the last key was Enter), so the prompt is left empty. */
  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.next % TYPING_KEYS.length !== 0) {
      this.socket.emit('input:key', { code: 'Enter', down: true });
      this.socket.emit('input:key', { code: 'Enter', down: false });
      this.next = 0;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.socket.disconnect();
  }
}

async function processCpuPercent(ms: number): Promise<number> {
  const before = process.cpuUsage();
  const t0 = performance.now();
  await sleep(ms);
  const used = process.cpuUsage(before);
  return round(((used.user + used.system) / 1000 / (performance.now() - t0)) * 100, 1);
}

/**
 * The ramp, on a stack whose first desktop `first` is watched by `viewer` (a real browser).
 * `created` receives every VM added; `onStep` runs after each step's samples (the full run
 * samples its eight-VM figure there).
 */
export async function measureDensity(
  stack: Stack,
  viewer: Viewer,
  plan: Pick<Plan, 'densityCap' | 'densityInput' | 'densityMinutes'>,
  log: (line: string) => void,
  options: {
    created?: string[];
    /** Samples of the first VM alone, if already taken (the full run's oneVm). */
    oneVm?: number[];
    /** Keep adding VMs past the end of both ramps, up to this many (the full run's eight). */
    minVms?: number;
    onStep?: (vms: number) => Promise<void>;
  } = {},
): Promise<DensityRamp> {
  const started = performance.now();
  const deadline = started + plan.densityMinutes * 60_000;
  const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;
  const typists: Typist[] = [];
  const samples: DensityStep[] = [];
  const idleSamples: DensityStep[] = [];
  const rssPoints: { vms: number; rssMiB: number }[] = [];
  const step = async (vms: number, label: string): Promise<DensityStep> => {
    const hostCpuPercent = await processCpuPercent(2000);
    const s = await sampleInputToPaint(viewer, plan.densityInput, `${vms} VMs, ${label}`, log);
    return {
      vms,
      p50: round(percentile(s, 50)),
      p95: round(percentile(s, 95)),
      n: s.length,
      rssMiB: Math.round(rssMiB()),
      hostCpuPercent,
    };
  };

  let running = 1;
  rssPoints.push({ vms: 1, rssMiB: rssMiB() });
  const one = options.oneVm ?? [];
  const first = one.length
    ? {
        vms: 1,
        p50: round(percentile(one, 50)),
        p95: round(percentile(one, 95)),
        n: one.length,
        rssMiB: Math.round(rssMiB()),
        hostCpuPercent: 0,
      }
    : await step(1, 'alone');
  samples.push(first);
  idleSamples.push(first);
  const fits = first.p95 <= P95_LIMIT_MS;
  let maxDesktopVms = fits ? 1 : 0;
  let maxIdleDesktopVms = maxDesktopVms;
  let activeOpen = fits && plan.densityCap > 1;
  let idleOpen = activeOpen;
  let stoppedBy = fits ? `cap ${plan.densityCap}` : `p95 ${first.p95} ms > 150 ms with 1 VM`;
  let idleStoppedBy = stoppedBy;
  const stopBoth = (why: string) => {
    if (activeOpen) stoppedBy = why;
    if (idleOpen) idleStoppedBy = why;
    activeOpen = idleOpen = false;
  };

  try {
    while (activeOpen || idleOpen || running < (options.minVms ?? 0)) {
      if (performance.now() > deadline && (activeOpen || idleOpen)) {
        stopBoth(`time limit ${plan.densityMinutes} min at ${running} VMs`);
        if (running >= (options.minVms ?? 0)) break;
      }
      let typist: Typist | null = null;
      for (let attempt = 0; attempt < 2 && !typist; attempt++) {
        try {
          const info = await stack.client.create({
            appliance: 'desktop',
            name: `density-${running + 1}-${attempt}`,
            kind: 'personal',
            owner: 'bench',
          });
          options.created?.push(info.id);
          typist = await Typist.attach(stack, info.id);
        } catch (error) {
          // A restore can exceed the host's liveness limit when the machine is loaded.
          log(`VM ${running + 1} did not start (${(error as Error).message})`);
          for (const d of await stack.client.list()) {
            if (d.state === 'crashed') await stack.client.destroy(d.id).catch(() => undefined);
          }
        }
      }
      if (!typist) {
        stopBoth(`could not start VM ${running + 1}`);
        break;
      }
      typists.push(typist);
      running++;
      await sleep(1500);
      rssPoints.push({ vms: running, rssMiB: rssMiB() });
      if (idleOpen) {
        const s = await step(running, 'idle neighbours');
        idleSamples.push(s);
        if (s.p95 > P95_LIMIT_MS) {
          idleOpen = false;
          idleStoppedBy = `p95 ${s.p95} ms > 150 ms at ${running} VMs`;
        } else maxIdleDesktopVms = running;
      }
      if (activeOpen) {
        for (const t of typists) t.start();
        await sleep(1000);
        const s = await step(running, 'active neighbours');
        for (const t of typists) await t.stop();
        samples.push(s);
        if (s.p95 > P95_LIMIT_MS) {
          activeOpen = false;
          stoppedBy = `p95 ${s.p95} ms > 150 ms at ${running} VMs`;
        } else maxDesktopVms = running;
      }
      if (running >= plan.densityCap) {
        activeOpen = idleOpen = false;
      }
      await options.onStep?.(running);
    }
  } finally {
    for (const t of typists) t.close();
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  log(
    `density: ${maxDesktopVms} active desktop VMs (${stoppedBy}), ${maxIdleDesktopVms} idle (${idleStoppedBy}), ${seconds} s`,
  );
  return {
    maxDesktopVms,
    samples,
    stoppedBy,
    maxIdleDesktopVms,
    idleSamples,
    idleStoppedBy,
    rssPerVmMiB: round(
      slope(
        rssPoints.map((p) => p.vms),
        rssPoints.map((p) => p.rssMiB),
      ),
    ),
    cap: plan.densityCap,
    seconds,
  };
}

/** results.density: the ramp and its method (idle CPU per VM is attached by bench/cpu.ts). */
export interface DensityFigures extends DensityRamp {
  method: string;
  idleCpuPercent: CpuFigures['idleCpuPercent'];
}

export function densityFigures(
  ramp: DensityRamp,
  plan: Pick<Plan, 'densityInput'>,
): DensityFigures {
  return {
    ...ramp,
    method: DENSITY_METHOD + ` ${plan.densityInput} samples per step and mode.`,
    idleCpuPercent: null,
  };
}
