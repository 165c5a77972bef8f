import type { NextRequest } from 'next/server';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { prepareFeed } from '@/server/gateway';
import { json, route } from '@/server/http';
import { vmView } from '@/server/present';
import { openDisposable } from '@/server/vms';

/** "Open disposable browser": a fresh VM from the browser appliance, its feed started at once. */
export const POST = route(async (req: NextRequest) => {
  const viewer = await requireUser(req);
  const vm = await openDisposable(db(), viewer, clientAddress(req.headers));
  prepareFeed(vm);
  const full = await db().vm.findUniqueOrThrow({
    where: { id: vm.id },
    include: { appliance: true },
  });
  return json({ vm: vmView(full) }, { status: 201 });
});
