// `vm net <id>`: a domain's NIC, egress policy and counters as text.
import type { DomainNetworkInfo, PortForwardInfo } from '../api/protocol.ts';

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

export function formatNetworkInfo(info: DomainNetworkInfo): string {
  const c = info.counters;
  const ports =
    info.policy.publicPorts === 'any' ? 'any port' : `ports ${info.policy.publicPorts.join(', ')}`;
  const lines = [
    `${info.id}  ${info.kind}  nic ${info.nic}  guest ${info.guestAddress} via ${info.gateway}  ` +
      `${info.attached ? 'attached' : 'not attached (no running worker)'}`,
    `policy       public addresses on ${ports}`,
    `allow-listed ${info.policy.allow.length ? info.policy.allow.join(', ') : 'none'}`,
    `denied       ${info.policy.denied}`,
    `connections  ${c.connectionsOpened} opened, ${c.connectionsDenied} denied, ` +
      `${c.connectionsFailed} failed, ${c.openConnections} open`,
    `traffic      ${bytes(c.bytesIn)} in, ${bytes(c.bytesOut)} out`,
    `dns          ${c.dnsQueries} queries, ${c.dnsAnswersFiltered} addresses filtered out`,
  ];
  for (const f of info.forwards) lines.push(`forward      ${formatPortForward(f)}`);
  if (info.recentDenials.length > 0) {
    lines.push('recent denials:');
    for (const d of info.recentDenials) lines.push(`  ${d.at}  ${d.destination}  ${d.reason}`);
  }
  return lines.join('\n');
}

/** `127.0.0.1:40123 -> vm-1a2b3c4d:5900  1 open, 3 so far, 2.0 KiB to the guest, ...` */
export function formatPortForward(f: PortForwardInfo): string {
  const host = f.listen.host.includes(':') ? `[${f.listen.host}]` : f.listen.host;
  return (
    `${host}:${f.listen.port} -> ${f.domainId}:${f.guestPort}  ` +
    `${f.connections.open} open, ${f.connections.total} so far, ` +
    `${bytes(f.bytesToGuest)} to the guest, ${bytes(f.bytesFromGuest)} from it`
  );
}
