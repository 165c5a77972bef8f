// CPU figures: input-to-paint of a desktop VM with N spinning neighbours, with the credit
// scheduler on and off in the same run (the scheduler's setEnabled), and idle CPU per VM.
import type { ApplianceName } from '@raydesk/hypervisor/api';
import { internalsOf } from '@raydesk/hypervisor/testing';
import { measureIdleCpu, type IdleCpu } from './idle-cpu.ts';
import {
  desktopPaintedAt,
  focusCanvas,
  inputSample,
  waitConnected,
  type Region,
  type Stack,
} from './stack.ts';
import { dist, percentile, type Dist } from './stats.ts';

export const CPU_METHODS = {
  busyNeighbours:
    "Input to paint (same probe as inputToPaintMs: a real key press in Chromium, alternately 'x' and Backspace into the desktop's xterm, keydown to the paint that changes the canvas) on one desktop VM while N console VMs each run `while :; do :; done` (typed on their serial console), with the credit scheduler on (default weights, SCHED_RESERVE_CORES of the host kept for the daemon, gateway and browser) and off (every VM unlimited), switched at run time on the same VMs: after 10 s of warm-up, four rounds off, on, on, off of half the samples each.",
  idleCpuPercent:
    "One VM of each appliance resumed from its golden snapshot, nobody watching or typing, measured over a window after 8 s of settling: workerPercent is its worker thread's own CPU time (kernel per-thread accounting, /proc/thread-self/schedstat) as a share of one core; processPercent is the hypervisor process's CPU (all threads) over the same window minus an equal window before the VM existed (noisy: it also counts other work in the process, such as refilling the standby pool).",
};

export interface BusyNeighbourFigure {
  neighbours: number;
  schedulerOn: Dist;
  schedulerOff: Dist;
}

export interface CpuFigures {
  busyNeighbours: { runs: BusyNeighbourFigure[]; method: string } | null;
  idleCpuPercent: {
    perAppliance: Partial<Record<ApplianceName, IdleCpu | null>>;
    method: string;
  } | null;
}

export interface CpuPlan {
  /** Neighbour counts to measure, in increasing order; empty skips the figure. */
  neighbourCounts: number[];
  input: number;
  idleSeconds: number;
  idleAppliances: ApplianceName[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ABOVE_PANEL: Region = { x: 0, y: 0, w: 1024, h: 730 };
const BUSY_LOOP = new TextEncoder().encode('while :; do :; done &\n');

export async function runCpuFigures(
  stack: Stack,
  plan: CpuPlan,
  log: (line: string) => void,
  series: Record<string, number[]>,
): Promise<CpuFigures> {
  const figures: CpuFigures = { busyNeighbours: null, idleCpuPercent: null };
  const host = stack.hv.host;
  const { scheduler } = internalsOf(host);
  const schedulerWasOn = scheduler.enabled;

  if (plan.neighbourCounts.length > 0) {
    const desktop = await stack.client.create({ appliance: 'desktop', name: 'cpu-typist' });
    const viewer = await stack.open(desktop.id);
    const neighbours: string[] = [];
    const runs: BusyNeighbourFigure[] = [];
    try {
      await desktopPaintedAt(viewer.page);
      await waitConnected(viewer);
      await focusCanvas(viewer);
      // Half the samples per round: each mode gets two rounds.
      const perRound = Math.max(2, Math.ceil(plan.input / 2));
      const sample = async (label: string): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < perRound; i++) {
          const ms = await inputSample(viewer, i % 2 ? 'Backspace' : 'x', ABOVE_PANEL);
          if (ms >= 0) out.push(ms);
          await sleep(Math.random() * 100);
        }
        if (perRound % 2 === 1) {
          await viewer.page.keyboard.press('Backspace');
          await sleep(150);
        }
        log(
          `inputToPaint ${label}: p50 ${percentile(out, 50).toFixed(0)} ms, p95 ${percentile(out, 95).toFixed(0)} ms, n=${out.length}`,
        );
        return out;
      };
      for (const count of plan.neighbourCounts) {
        while (neighbours.length < count) {
          const info = await stack.client.create({
            appliance: 'console',
            name: `spin-${neighbours.length + 1}`,
          });
          const domain = host.get(info.id);
          await domain.guestRefreshed;
          domain.serialInput(0, BUSY_LOOP);
          neighbours.push(info.id);
        }
        // Neighbours warm up first (v86 compiles their hot loop), then the two modes take turns
        // in four rounds, so drift in the machine's load or in the guests falls on both alike.
        await sleep(10_000);
        const byMode: Record<'on' | 'off', number[]> = { on: [], off: [] };
        for (const mode of ['off', 'on', 'on', 'off'] as const) {
          scheduler.setEnabled(mode === 'on');
          await sleep(2000);
          const mips = (await Promise.all(neighbours.map((id) => stack.client.get(id)))).map(
            (d) => d.mips,
          );
          log(
            `${count} busy neighbours, scheduler ${mode}: neighbours at ${mips.map((m) => m.toFixed(0)).join(', ')} MIPS`,
          );
          byMode[mode].push(...(await sample(`${count} busy neighbours, scheduler ${mode}`)));
        }
        series[`busyNeighbours.${count}.on`] = byMode.on;
        series[`busyNeighbours.${count}.off`] = byMode.off;
        runs.push({
          neighbours: count,
          schedulerOn: dist(byMode.on, `${count} busy neighbours, scheduler on.`),
          schedulerOff: dist(byMode.off, `${count} busy neighbours, scheduler off.`),
        });
      }
      figures.busyNeighbours = {
        runs,
        method: `${CPU_METHODS.busyNeighbours} Host capacity for guests: ${scheduler.capacity} cores.`,
      };
    } finally {
      scheduler.setEnabled(schedulerWasOn);
      await viewer.close();
      for (const id of [desktop.id, ...neighbours])
        await stack.client.destroy(id).catch(() => undefined);
    }
  }

  if (plan.idleAppliances.length > 0) {
    const perAppliance: Partial<Record<ApplianceName, IdleCpu | null>> = {};
    for (const appliance of plan.idleAppliances) {
      try {
        if (!(await host.goldenManifest(appliance))) {
          // Building a golden snapshot takes minutes; this figure is not worth that wait.
          perAppliance[appliance] = null;
          log(`idle ${appliance} VM not measured: no golden snapshot for its current image`);
          continue;
        }
        perAppliance[appliance] = await measureIdleCpu(host, appliance, plan.idleSeconds);
        const r = perAppliance[appliance]!;
        log(
          `idle ${appliance} VM: worker ${r.workerPercent}% of a core, process +${r.processPercent}%`,
        );
      } catch (error) {
        perAppliance[appliance] = null;
        log(`idle ${appliance} VM not measured: ${(error as Error).message}`);
      }
    }
    figures.idleCpuPercent = {
      perAppliance,
      method: CPU_METHODS.idleCpuPercent + ` ${plan.idleSeconds} s window.`,
    };
  }
  return figures;
}
