import type { NextRequest } from 'next/server';
import { idSchema, vmActionSchema } from '@/lib/validation';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, notFound, parseBody, route } from '@/server/http';
import { vmAction } from '@/server/vms';

/** Suspend (to disk), resume, reboot or destroy any VM. Audited. */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const { action } = await parseBody(req, vmActionSchema);
  const vm = await db().vm.findFirst({ where: { id, state: { not: 'destroyed' } } });
  if (!vm) throw notFound('No such VM.');
  await vmAction(db(), vm, action, {
    id: admin.id,
    email: admin.email,
    address: clientAddress(req.headers),
  });
  return json({ ok: true });
});
