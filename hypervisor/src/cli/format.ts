import type { DomainInfo } from '../api/protocol.ts';

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** An `xl list`-style table. */
export function formatDomainTable(domains: DomainInfo[]): string {
  const header = ['ID', 'NAME', 'APPLIANCE', 'STATE', 'MEM(MiB)', 'CPU%', 'UPTIME'];
  const rows = domains.map((d) => [
    d.id,
    d.name,
    d.appliance,
    d.state,
    String(d.memoryMiB + d.vgaMemoryMiB),
    d.cpuPercent.toFixed(1),
    d.uptimeMs > 0 ? formatDuration(d.uptimeMs) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
