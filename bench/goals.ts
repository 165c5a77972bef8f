// Issue 14's targets beside what a run measured: each figure's goal (what a user should feel),
// bar (the least the issue accepts, on a quiet run) and the run's value with its n, so a run's
// table says by itself where Raydesk stands. Lower is better except for density.
import type { BenchResults } from './run.ts';

export interface GoalRow {
  figure: string;
  goal: number;
  bar: number;
  unit: 'ms' | 'ratio' | 'VMs';
  /** The run's value, or null when the run did not measure it. */
  value: number | null;
  n: number | null;
  verdict: 'goal' | 'bar' | 'below bar' | 'not measured';
}

interface Target {
  figure: string;
  goal: number;
  bar: number;
  unit: GoalRow['unit'];
  higherIsBetter?: boolean;
  read: (r: BenchResults) => { value: number; n: number } | null;
}

const dist = (d: { p50: number; p95: number; n: number } | null, p: 'p50' | 'p95') =>
  d ? { value: d[p], n: d.n } : null;

const TARGETS: Target[] = [
  {
    figure: 'inputToPaintMs.oneVm p50',
    goal: 40,
    bar: 60,
    unit: 'ms',
    read: (r) => dist(r.inputToPaintMs.oneVm, 'p50'),
  },
  {
    figure: 'inputToPaintMs.oneVm p95',
    goal: 60,
    bar: 80,
    unit: 'ms',
    read: (r) => dist(r.inputToPaintMs.oneVm, 'p95'),
  },
  {
    figure: 'inputToPaintMs.eightVms p95',
    goal: 60,
    bar: 90,
    unit: 'ms',
    read: (r) => dist(r.inputToPaintMs.eightVms, 'p95'),
  },
  {
    figure: 'reconnectMs p50',
    goal: 150,
    bar: 250,
    unit: 'ms',
    read: (r) => dist(r.reconnectMs, 'p50'),
  },
  {
    figure: 'timeToDesktopMs p50',
    goal: 300,
    bar: 450,
    unit: 'ms',
    read: (r) => dist(r.timeToDesktopMs, 'p50'),
  },
  {
    figure: 'snapshot.saveMs',
    goal: 200,
    bar: 350,
    unit: 'ms',
    read: (r) => (r.snapshot ? { value: r.snapshot.saveMs, n: r.snapshot.n } : null),
  },
  {
    figure: 'snapshot.restoreMs',
    goal: 200,
    bar: 500,
    unit: 'ms',
    read: (r) => (r.snapshot ? { value: r.snapshot.restoreMs, n: r.snapshot.n } : null),
  },
  {
    figure: 'resumeToDesktopMs p50',
    goal: 400,
    bar: 700,
    unit: 'ms',
    read: (r) => dist(r.resumeToDesktopMs, 'p50'),
  },
  {
    figure: 'window-drag bytes / naive full-band PNG',
    goal: 0.25,
    bar: 0.33,
    unit: 'ratio',
    read: (r) => {
      const drag = r.bandwidthBytesPerSec?.windowDrag;
      const base = r.baselineFullBandPngBytesPerSec?.windowDrag;
      return drag !== undefined && base ? { value: round(drag / base, 2), n: 1 } : null;
    },
  },
  {
    figure: 'density.maxDesktopVms (active)',
    goal: 24,
    bar: 16,
    unit: 'VMs',
    higherIsBetter: true,
    read: (r) =>
      r.density ? { value: r.density.maxDesktopVms, n: r.density.samples.length } : null,
  },
  {
    // The issue asks for the idle figure beside the active one; it holds it to the same marks.
    figure: 'density.maxIdleDesktopVms',
    goal: 24,
    bar: 16,
    unit: 'VMs',
    higherIsBetter: true,
    read: (r) =>
      r.density ? { value: r.density.maxIdleDesktopVms, n: r.density.idleSamples.length } : null,
  },
];

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export function goalRows(r: BenchResults): GoalRow[] {
  return TARGETS.map((t) => {
    const got = t.read(r);
    if (!got) return { ...pick(t), value: null, n: null, verdict: 'not measured' as const };
    const meets = (limit: number) => (t.higherIsBetter ? got.value >= limit : got.value <= limit);
    const verdict = meets(t.goal) ? 'goal' : meets(t.bar) ? 'bar' : 'below bar';
    return { ...pick(t), value: got.value, n: got.n, verdict };
  });
}

const pick = ({ figure, goal, bar, unit }: Target) => ({ figure, goal, bar, unit });

const show = (v: number, unit: GoalRow['unit']) =>
  unit === 'ms' ? `${v} ms` : unit === 'VMs' ? `${v}` : `${v}`;

/** The rows as a Markdown table, ready for the README or a closing note. */
export function goalsMarkdown(r: BenchResults): string {
  const rows = goalRows(r).map((g) => [
    g.figure,
    g.value === null ? '—' : show(g.value, g.unit),
    g.n === null ? '—' : String(g.n),
    show(g.goal, g.unit),
    show(g.bar, g.unit),
    g.verdict,
  ]);
  const head = ['Figure', 'This run', 'n', 'Goal', 'Bar', 'Reached'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
