import type { NextRequest } from 'next/server';
import { idSchema, vmCloneSchema } from '@/lib/validation';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { cloneVm } from '@/server/fleet-actions';
import { json, notFound, parseBody, route } from '@/server/http';

/** "Clone…": copies of a running VM, for the administrator or one per listed user. Audited. */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const request = await parseBody(req, vmCloneSchema);
  const vm = await db().vm.findFirst({ where: { id, state: { not: 'destroyed' } } });
  if (!vm) throw notFound('No such VM.');
  const clones = await cloneVm(db(), vm, request, {
    id: admin.id,
    email: admin.email,
    address: clientAddress(req.headers),
  });
  return json({ ok: clones.every((c) => !c.error), clones });
});
