// Output of the benchmark: a readable table for the terminal and a self-contained HTML chart
// (inline SVG, no scripts, no CDN) of the latency distributions.
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import type { BenchResults, RunOutput } from './run.ts';
import { percentile } from './stats.ts';
import { goalsMarkdown } from './goals.ts';

export function machine(): string {
  let os: string = process.platform;
  try {
    const rel = readFileSync('/etc/os-release', 'utf8');
    os = /PRETTY_NAME="([^"]+)"/.exec(rel)?.[1] ?? os;
  } catch {
    /* not Linux */
  }
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'cpu'}), ${Math.round(totalmem() / 2 ** 30)} GiB, ${os}, Node ${process.versions.node}`;
}

const ms = (v: number | undefined | null) =>
  v === undefined || v === null || Number.isNaN(v) ? '—' : `${v} ms`;
const bps = (v: number | undefined | null) => {
  if (v === undefined || v === null) return '—';
  if (v >= 2 ** 20) return `${(v / 2 ** 20).toFixed(2)} MiB/s`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB/s`;
  return `${v} B/s`;
};

export function table(out: RunOutput): string {
  const r: BenchResults = out.results;
  const rows: [string, string][] = [];
  const d = (name: string, x: { p50: number; p95: number; n: number } | null) =>
    rows.push([name, x ? `p50 ${ms(x.p50)}   p95 ${ms(x.p95)}   n=${x.n}` : 'not measured']);
  d('timeToDesktopMs', r.timeToDesktopMs);
  d('resumeToDesktopMs', r.resumeToDesktopMs);
  d('reconnectMs', r.reconnectMs);
  d('inputToPaintMs.oneVm', r.inputToPaintMs.oneVm);
  d('inputToPaintMs.eightVms', r.inputToPaintMs.eightVms);
  d('inputToPaintMs.busyNeighbour', r.inputToPaintMs.busyNeighbour);
  const bw = r.bandwidthBytesPerSec;
  const base = r.baselineFullBandPngBytesPerSec;
  for (const k of ['idle', 'typing', 'windowDrag'] as const) {
    rows.push([
      `bandwidth.${k}`,
      bw && base ? `${bps(bw[k])}   (naive full-band PNG: ${bps(base[k])})` : 'not measured',
    ]);
  }
  const fps = r.windowDragFps;
  rows.push([
    'windowDragFps',
    fps
      ? `hypervisor ${fps.hypervisor}/s, viewer ${fps.viewer}/s (frame clock ${fps.displayFps}/s)`
      : 'not measured',
  ]);
  d('encodeMsPerFrame', r.encodeMsPerFrame);
  rows.push([
    'snapshot (desktop)',
    r.snapshot
      ? `save ${r.snapshot.saveMs} ms, restore ${r.snapshot.restoreMs} ms, ${(r.snapshot.stateBytes / 2 ** 20).toFixed(1)} MiB; disk overlay ${(r.snapshot.overlayBytes / 2 ** 20).toFixed(1)} MiB (file ${(r.snapshot.overlayFileBytes / 2 ** 20).toFixed(1)} MiB)`
      : 'not measured',
  ]);
  rows.push([
    'coldBootMs',
    ['console', 'desktop', 'browser']
      .map((a) => `${a} ${ms(r.coldBootMs[a as 'console'])}`)
      .join(', '),
  ]);
  rows.push([
    'density',
    r.density
      ? `${r.density.maxDesktopVms} active desktop VMs (${r.density.stoppedBy}); ` +
        r.density.samples.map((s) => `${s.vms}:${s.p95}`).join(' ') +
        ' (VMs:p95 ms)'
      : 'not measured',
  ]);
  rows.push([
    'density.idle',
    r.density
      ? `${r.density.maxIdleDesktopVms} idle desktop VMs (${r.density.idleStoppedBy}), ${r.density.rssPerVmMiB} MiB RSS/VM; ` +
        r.density.idleSamples.map((s) => `${s.vms}:${s.p95}`).join(' ') +
        ` (VMs:p95 ms), ramp ${r.density.seconds} s`
      : 'not measured',
  ]);
  for (const run of r.inputToPaintMs.busyNeighbours?.runs ?? []) {
    const on = run.schedulerOn;
    const off = run.schedulerOff;
    rows.push([
      `busyNeighbours.${run.neighbours}`,
      `scheduler on p50 ${ms(on.p50)} p95 ${ms(on.p95)} n=${on.n};  off p50 ${ms(off.p50)} p95 ${ms(off.p95)} n=${off.n}`,
    ]);
  }
  const idle = r.density?.idleCpuPercent?.perAppliance ?? {};
  rows.push([
    'idleCpuPercent',
    Object.keys(idle).length
      ? Object.entries(idle)
          .map(([a, v]) =>
            v ? `${a} ${v.workerPercent}% (process +${v.processPercent}%)` : `${a} —`,
          )
          .join(', ') + ' of one core'
      : 'not measured',
  ]);
  const novnc = r.peers?.novnc;
  d('peers.novnc.inputToPaintMs', novnc?.inputToPaintMs ?? null);
  d('peers.novnc.reconnectMs', novnc?.reconnectMs ?? null);
  const nbw = novnc?.bandwidthBytesPerSec;
  rows.push([
    'peers.novnc.bandwidth',
    nbw
      ? `idle ${bps(nbw.idle)}, typing ${bps(nbw.typing)}, windowDrag ${bps(nbw.windowDrag)}`
      : 'not measured',
  ]);
  const vs = r.vsNoVnc;
  rows.push([
    'vsNoVnc (Raydesk / noVNC)',
    vs
      ? `input p50 ${vs.inputToPaintP50} p95 ${vs.inputToPaintP95}, typing bytes ${vs.typingBytes}, ` +
        `drag bytes ${vs.windowDragBytes}, reconnect p50 ${vs.reconnectP50} p95 ${vs.reconnectP95}`
      : 'not measured',
  ]);
  rows.push([
    'mips',
    r.mips ? `bare v86 ${r.mips.bare}, Raydesk worker ${r.mips.hypervisor}` : 'not measured',
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    `Raydesk benchmark (${out.mode}, ${(out.elapsedMs / 1000).toFixed(0)} s) on ${machine()}`,
    `  load average (1 min) at start ${out.loadavg.start}, at end ${out.loadavg.end}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    '',
    'Against the targets of issue 14 (goal: what a user should feel; bar: the least accepted):',
    goalsMarkdown(r),
  ].join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Strip plot of every sample on a shared log axis, with p50 and p95 marks, one row a series. */
export function html(out: RunOutput): string {
  const names = [
    ['encodeMsPerFrame', 'Gateway encode per frame'],
    ['inputToPaintMs.oneVm', 'Input to paint, 1 VM'],
    ['peers.novnc.inputToPaintMs', 'Input to paint, noVNC + x11vnc'],
    ['inputToPaintMs.busyNeighbour', 'Input to paint, busy neighbour'],
    ['inputToPaintMs.eightVms', 'Input to paint, 8 VMs'],
    ['reconnectMs', 'Reconnect (takeover)'],
    ['peers.novnc.reconnectMs', 'Reconnect, noVNC + x11vnc'],
    ['timeToDesktopMs', 'Time to desktop (new VM)'],
    ['resumeToDesktopMs', 'Resume to desktop (saved VM)'],
    ...Object.keys(out.series)
      .filter((k) => k.startsWith('busyNeighbours.'))
      .map((k) => {
        const [, n, mode] = k.split('.');
        return [k, `Input, ${n} busy, scheduler ${mode}`];
      }),
  ].filter(([k]) => out.series[k!]?.length) as [string, string][];
  const left = 250;
  const plotW = 700;
  const rowH = 54;
  const top = 40;
  const lo = Math.log10(0.1);
  const hi = Math.log10(100_000);
  const x = (v: number) => left + ((Math.log10(Math.max(0.1, v)) - lo) / (hi - lo)) * plotW;
  const h = top + rowH * names.length + 50;
  const parts: string[] = [];
  for (let p = -1; p <= 5; p++) {
    const v = 10 ** p;
    parts.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${top - 10}" y2="${h - 40}" stroke="#e3e6ea"/>`,
      `<text x="${x(v)}" y="${h - 22}" text-anchor="middle" class="ax">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`,
    );
  }
  names.forEach(([key, label], i) => {
    const s = out.series[key]!;
    const y = top + i * rowH + rowH / 2;
    parts.push(
      `<text x="${left - 12}" y="${y + 4}" text-anchor="end" class="lb">${esc(label)}</text>`,
    );
    parts.push(
      `<text x="${left - 12}" y="${y + 18}" text-anchor="end" class="ax">n=${s.length}</text>`,
    );
    s.forEach((v, j) => {
      const jitter = (((j * 7919) % 29) / 29 - 0.5) * 22;
      parts.push(
        `<circle cx="${x(v).toFixed(1)}" cy="${(y + jitter).toFixed(1)}" r="2.6" fill="#2a6fdb" fill-opacity="0.45"/>`,
      );
    });
    const p50 = percentile(s, 50);
    const p95 = percentile(s, 95);
    parts.push(
      `<line x1="${x(p50)}" x2="${x(p50)}" y1="${y - 16}" y2="${y + 16}" stroke="#1d1f21" stroke-width="2.5"/>`,
      `<line x1="${x(p95)}" x2="${x(p95)}" y1="${y - 16}" y2="${y + 16}" stroke="#d9480f" stroke-width="2.5"/>`,
      `<text x="${x(p95) + 6}" y="${y - 8}" class="ax">p50 ${p50.toFixed(p50 < 10 ? 1 : 0)} · p95 ${p95.toFixed(p95 < 10 ? 1 : 0)} ms</text>`,
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${left + plotW + 150}" height="${h}" viewBox="0 0 ${left + plotW + 150} ${h}">
<style>.lb{font:600 13px system-ui,sans-serif;fill:#1d1f21}.ax{font:11px system-ui,sans-serif;fill:#5c6370}</style>
<text x="${left}" y="20" class="lb">Latency distributions (log scale) — black: p50, orange: p95</text>
${parts.join('\n')}
</svg>`;

  // Density: input p95 over VM count.
  let densitySvg = '';
  const density = out.results.density;
  if (density && density.samples.length) {
    const W = 520;
    const H = 240;
    const all = [...density.samples, ...density.idleSamples];
    const maxVms = Math.max(...all.map((s) => s.vms), 2);
    const maxP = Math.max(200, ...all.map((s) => s.p95));
    const dx = (v: number) => 50 + ((v - 1) / (maxVms - 1)) * (W - 80);
    const dy = (p: number) => H - 30 - (p / maxP) * (H - 60);
    const line = (steps: typeof all) =>
      steps.map((s) => `${dx(s.vms).toFixed(1)},${dy(s.p95).toFixed(1)}`).join(' ');
    densitySvg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
<style>.lb{font:600 13px system-ui,sans-serif;fill:#1d1f21}.ax{font:11px system-ui,sans-serif;fill:#5c6370}</style>
<text x="50" y="18" class="lb">Density: input-to-paint p95 vs desktop VMs (blue: neighbours typing; grey: idle)</text>
<line x1="50" x2="${W - 30}" y1="${dy(150)}" y2="${dy(150)}" stroke="#d9480f" stroke-dasharray="4 3"/>
<text x="${W - 30}" y="${dy(150) - 4}" text-anchor="end" class="ax">150 ms</text>
<line x1="50" x2="50" y1="30" y2="${H - 30}" stroke="#8a9099"/><line x1="50" x2="${W - 30}" y1="${H - 30}" y2="${H - 30}" stroke="#8a9099"/>
<polyline points="${line(density.idleSamples)}" fill="none" stroke="#8a9099" stroke-width="2"/>
<polyline points="${line(density.samples)}" fill="none" stroke="#2a6fdb" stroke-width="2"/>
${density.samples.map((s) => `<circle cx="${dx(s.vms)}" cy="${dy(s.p95)}" r="4" fill="#2a6fdb"/><text x="${dx(s.vms)}" y="${H - 14}" text-anchor="middle" class="ax">${s.vms}</text><text x="${dx(s.vms)}" y="${dy(s.p95) - 8}" text-anchor="middle" class="ax">${s.p95}</text>`).join('\n')}
</svg>`;
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Raydesk benchmark</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#1d1f21;background:#fff}pre{background:#f4f5f7;padding:12px;font-size:12px;white-space:pre-wrap}</style></head>
<body><h1 style="font-size:20px;margin:0 0 4px">Raydesk benchmark — ${esc(out.mode)} run</h1>
<p style="margin:0 0 16px;color:#5c6370">${esc(machine())} · ${new Date().toISOString()} · ${(out.elapsedMs / 1000).toFixed(0)} s · load average ${out.loadavg.start} → ${out.loadavg.end}</p>
${svg}
${densitySvg}
<pre>${esc(table(out))}</pre>
</body></html>`;
}
