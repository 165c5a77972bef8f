import type { NextRequest } from 'next/server';
import { idSchema } from '@/lib/validation';
import { requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, notFound, route } from '@/server/http';
import { ownVm } from '@/server/vms';

/** An open viewer tab of a disposable VM says it is still there (every 15 s). */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const viewer = await requireUser(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const vm = await ownVm(db(), viewer, id);
  await db().vm.update({ where: { id: vm.id }, data: { lastSeenAt: new Date() } });
  return json({ ok: true, expiresAt: vm.expiresAt?.toISOString() ?? null });
});
