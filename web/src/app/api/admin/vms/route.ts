import type { NextRequest } from 'next/server';
import { vmFilterSchema } from '@/lib/validation';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseQuery, route } from '@/server/http';
import { vmView } from '@/server/present';
import { ACTIVE_STATES } from '@/server/vms';

export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  const f = parseQuery(req, vmFilterSchema);
  const vms = await db().vm.findMany({
    where: {
      ...(f.state === 'active'
        ? { state: { in: ACTIVE_STATES } }
        : f.state === 'all'
          ? {}
          : { state: f.state }),
      ...(f.kind !== 'all' ? { kind: f.kind } : {}),
      ...(f.appliance ? { appliance: { name: f.appliance } } : {}),
      ...(f.owner ? { owner: { email: { contains: f.owner.toLowerCase() } } } : {}),
    },
    include: { appliance: true, owner: { select: { id: true, email: true, name: true } } },
    orderBy: { createdAt: 'desc' },
    take: 500,
  });
  return json({ vms: vms.map(vmView) });
});
