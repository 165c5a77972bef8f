import type { NextRequest } from 'next/server';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { prepareFeed } from '@/server/gateway';
import { json, route } from '@/server/http';
import { applyKeyboardLayout, keyboardLayoutOf } from '@/server/keyboard';
import { vmView } from '@/server/present';
import { openDesktop } from '@/server/vms';

/**
 * "Open desktop": creates the personal desktop on first use, or resumes it; the gateway starts
 * watching it meanwhile, so its picture is there when the viewer page attaches.
 */
export const POST = route(async (req: NextRequest) => {
  const viewer = await requireUser(req);
  const started = Date.now();
  const vm = await openDesktop(db(), viewer, clientAddress(req.headers));
  prepareFeed(vm);
  applyKeyboardLayout(db(), vm, await keyboardLayoutOf(db(), viewer.id));
  const full = await db().vm.findUniqueOrThrow({
    where: { id: vm.id },
    include: { appliance: true },
  });
  return json({ vm: vmView(full), tookMs: Date.now() - started });
});
