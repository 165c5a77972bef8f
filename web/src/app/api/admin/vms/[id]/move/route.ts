import type { NextRequest } from 'next/server';
import { idSchema, vmMoveSchema } from '@/lib/validation';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { moveVm } from '@/server/fleet-actions';
import { json, notFound, parseBody, route } from '@/server/http';

/** "Move to…": live relocation of a VM to another host of the fleet. Audited. */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const { hostId } = await parseBody(req, vmMoveSchema);
  const vm = await db().vm.findFirst({ where: { id, state: { not: 'destroyed' } } });
  if (!vm) throw notFound('No such VM.');
  const moved = await moveVm(db(), vm, hostId, {
    id: admin.id,
    email: admin.email,
    address: clientAddress(req.headers),
  });
  return json({ ok: true, hostId: moved.hostId, domainId: moved.domainId });
});
