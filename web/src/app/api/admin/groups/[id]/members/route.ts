import type { NextRequest } from 'next/server';
import { z } from 'zod';
import { groupMemberSchema, idSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { addMember, removeMember } from '@/server/groups';
import { json, notFound, parseBody, route } from '@/server/http';

type Ctx = { params: Promise<{ id: string }> };

export const POST = route(async (req: NextRequest, ctx: Ctx) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such group.');
  const { email } = await parseBody(req, groupMemberSchema);
  const userId = await addMember(db(), id, email);
  await audit(db(), {
    action: 'group.member_add',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'group',
    targetId: id,
    address: clientAddress(req.headers),
    details: { userId, email },
  });
  return json({ ok: true });
});

export const DELETE = route(async (req: NextRequest, ctx: Ctx) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such group.');
  const { userId } = await parseBody(req, z.object({ userId: idSchema }));
  await removeMember(db(), id, userId);
  await audit(db(), {
    action: 'group.member_remove',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'group',
    targetId: id,
    address: clientAddress(req.headers),
    details: { userId },
  });
  return json({ ok: true });
});
