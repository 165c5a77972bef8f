import type { NextRequest } from 'next/server';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { gatewaySessions, type SessionInfo } from '@/server/gateway';
import { json, route } from '@/server/http';
import { connectionView } from '@/server/present';

/** Live sessions: the gateway's table when it answers, joined with the portal's records. */
export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  let live: SessionInfo[] | null = null;
  let gatewayError: string | null = null;
  try {
    live = await gatewaySessions();
  } catch (error) {
    gatewayError = error instanceof Error ? error.message : 'The display gateway is not reachable.';
  }
  const rows = await db().endpointConnection.findMany({
    where: live ? { gatewaySessionId: { in: live.map((s) => s.id) } } : { endedAt: null },
    include: {
      user: { select: { id: true, email: true, name: true } },
      vm: { include: { owner: { select: { email: true, name: true } }, appliance: true } },
    },
    orderBy: { startedAt: 'desc' },
  });
  const byGatewayId = new Map(rows.map((r) => [r.gatewaySessionId, r]));
  const domainIds = live ? [...new Set(live.map((s) => s.vm))] : [];
  const vmsByDomain = new Map(
    (
      await db().vm.findMany({
        where: { domainId: { in: domainIds } },
        include: { owner: { select: { email: true, name: true } }, appliance: true },
      })
    ).map((v) => [v.domainId!, v]),
  );
  const sessions = live
    ? live.map((s) => {
        const row = byGatewayId.get(s.id);
        const vm = row?.vm ?? vmsByDomain.get(s.vm) ?? null;
        return {
          id: s.id,
          userId: s.userId,
          userName: s.name,
          userEmail: row?.user?.email ?? null,
          role: s.role,
          mode: s.mode,
          domainId: s.vm,
          vmId: vm?.id ?? null,
          vmKind: vm?.kind ?? null,
          appliance: vm?.appliance.name ?? null,
          owner: vm?.owner.email ?? null,
          endpoint: row ? connectionView(row).browser : 'Browser',
          address: s.remoteAddress ?? row?.address ?? '',
          since: s.connectedAt,
          lagMs: s.lagMs,
          bytesSent: s.bytesSent,
        };
      })
    : rows.map((r) => ({
        id: r.gatewaySessionId,
        userId: r.userId,
        userName: r.user?.name ?? '',
        userEmail: r.user?.email ?? null,
        role: null,
        mode: r.mode,
        domainId: r.domainId,
        vmId: r.vmId,
        vmKind: r.vm?.kind ?? null,
        appliance: r.vm?.appliance.name ?? null,
        owner: r.vm?.owner.email ?? null,
        endpoint: connectionView(r).browser,
        address: r.address,
        since: r.startedAt.toISOString(),
        lagMs: null,
        bytesSent: null,
      }));
  return json({ sessions, source: live ? 'gateway' : 'database', gatewayError });
});
