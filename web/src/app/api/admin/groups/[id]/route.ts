import type { NextRequest } from 'next/server';
import { idSchema, updateGroupSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { deleteGroup, updateGroup } from '@/server/groups';
import { json, notFound, parseBody, route } from '@/server/http';

type Ctx = { params: Promise<{ id: string }> };

export const PATCH = route(async (req: NextRequest, ctx: Ctx) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such group.');
  const input = await parseBody(req, updateGroupSchema);
  await updateGroup(db(), id, input);
  await audit(db(), {
    action: 'group.update',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'group',
    targetId: id,
    address: clientAddress(req.headers),
    details: input,
  });
  return json({ ok: true });
});

export const DELETE = route(async (req: NextRequest, ctx: Ctx) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such group.');
  const name = await deleteGroup(db(), id);
  await audit(db(), {
    action: 'group.delete',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'group',
    targetId: id,
    address: clientAddress(req.headers),
    details: { name },
  });
  return json({ ok: true });
});
