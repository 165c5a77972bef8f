import type { NextRequest } from 'next/server';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, route } from '@/server/http';
import { hypervisor } from '@/server/hypervisor';
import { config } from '@/server/config';
import { ACTIVE_STATES } from '@/server/vms';

export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  // Refresh the local host's row now (the reaper does it every 15 s too).
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
      status: h.status,
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
