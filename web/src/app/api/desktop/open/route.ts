import type { NextRequest } from 'next/server';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, route } from '@/server/http';
import { vmView } from '@/server/present';
import { openDesktop } from '@/server/vms';

/** "Open desktop": creates the personal desktop on first use, or resumes it. */
export const POST = route(async (req: NextRequest) => {
  const viewer = await requireUser(req);
  const started = Date.now();
  const vm = await openDesktop(db(), viewer, clientAddress(req.headers));
  const full = await db().vm.findUniqueOrThrow({
    where: { id: vm.id },
    include: { appliance: true },
  });
  return json({ vm: vmView(full), tookMs: Date.now() - started });
});
