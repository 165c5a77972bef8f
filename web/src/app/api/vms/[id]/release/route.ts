import type { NextRequest } from 'next/server';
import { idSchema } from '@/lib/validation';
import { config } from '@/server/config';
import { requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, notFound, route } from '@/server/http';
import { ownVm } from '@/server/vms';

/**
 * The viewer tab closed (sent with navigator.sendBeacon on pagehide). A disposable VM then has
 * the grace period to be reopened (a reload) before the reaper destroys it.
 */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const viewer = await requireUser(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const vm = await ownVm(db(), viewer, id);
  if (vm.kind === 'disposable')
    await db().vm.update({ where: { id: vm.id }, data: { lastSeenAt: new Date() } });
  return json({ ok: true, graceSeconds: config().DISPOSABLE_GRACE_SECONDS });
});
