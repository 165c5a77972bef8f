import type { NextRequest } from 'next/server';
import { createGroupSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { createGroup, listGroups } from '@/server/groups';
import { json, parseBody, route } from '@/server/http';

export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  const appliances = await db().appliance.findMany({
    select: { name: true, title: true },
    orderBy: { name: 'asc' },
  });
  return json({ groups: await listGroups(db()), appliances });
});

export const POST = route(async (req: NextRequest) => {
  const admin = await requireAdmin(req);
  const input = await parseBody(req, createGroupSchema);
  const { id } = await createGroup(db(), input);
  await audit(db(), {
    action: 'group.create',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'group',
    targetId: id,
    address: clientAddress(req.headers),
    details: input,
  });
  return json({ id }, { status: 201 });
});
