import type { NextRequest } from 'next/server';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, route } from '@/server/http';
import { hypervisor } from '@/server/hypervisor';
import { config } from '@/server/config';
import { fleetMode, isLive } from '@/server/fleet';
import { ACTIVE_STATES } from '@/server/vms';

export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  // In a fleet each host heartbeats its own row; here only the embedded default's one host is
  // refreshed (the reaper does it every 15 s too).
  if (!fleetMode()) await refreshLocalHost();
  const now = new Date();
  const hosts = await db().hypervisorHost.findMany({
    orderBy: { id: 'asc' },
    include: {
      vms: { where: { state: { in: ACTIVE_STATES } }, select: { memoryMiB: true, state: true } },
    },
  });
  return json({
    hosts: hosts.map((h) => ({
      id: h.id,
      name: h.name,
      url: h.url,
      status: fleetMode() ? (isLive(h, now) ? 'online' : 'offline') : h.status,
      draining: h.draining,
      load: h.load,
      memoryBudgetMiB: h.memoryBudgetMiB,
      memoryUsedMiB: h.memoryUsedMiB,
      cores: h.cores,
      domains: h.domains,
      running: h.running,
      portalVms: h.vms.length,
      lastHeartbeatAt: h.lastHeartbeatAt?.toISOString() ?? null,
    })),
  });
});

async function refreshLocalHost(): Promise<void> {
  try {
    const info = await (await hypervisor(800)).hostInfo();
    await db().hypervisorHost.update({
      where: { id: config().HYPERVISOR_ID },
      data: {
        memoryBudgetMiB: info.memoryBudgetMiB,
        memoryUsedMiB: info.memoryUsedMiB,
        cores: info.cores,
        domains: info.domains,
        running: info.running,
        status: 'online',
        lastHeartbeatAt: new Date(),
      },
    });
  } catch {
    await db().hypervisorHost.updateMany({
      where: { id: config().HYPERVISOR_ID },
      data: { status: 'offline' },
    });
  }
}
