import type { NextRequest } from 'next/server';
import { idSchema } from '@/lib/validation';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { HttpError, json, notFound, route } from '@/server/http';
import { vmView } from '@/server/present';
import { destroyVm, ownVm } from '@/server/vms';

type Ctx = { params: Promise<{ id: string }> };

async function vmId(ctx: Ctx): Promise<string> {
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  return id;
}

export const GET = route(async (req: NextRequest, ctx: Ctx) => {
  const viewer = await requireUser(req);
  const vm = await ownVm(db(), viewer, await vmId(ctx));
  const full = await db().vm.findUniqueOrThrow({
    where: { id: vm.id },
    include: { appliance: true },
  });
  return json({ vm: vmView(full) });
});

/** Users may close their own disposable browsers; personal desktops are kept. */
export const DELETE = route(async (req: NextRequest, ctx: Ctx) => {
  const viewer = await requireUser(req);
  const vm = await ownVm(db(), viewer, await vmId(ctx));
  if (vm.kind !== 'disposable')
    throw new HttpError(409, 'not_disposable', 'Your personal desktop cannot be deleted here.');
  await destroyVm(db(), vm, 'closed-by-user', {
    id: viewer.id,
    email: viewer.email,
    address: clientAddress(req.headers),
  });
  return json({ ok: true });
});
