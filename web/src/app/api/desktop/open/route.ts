import type { NextRequest } from 'next/server';
import { pagePolicy, pageTicket } from '@/server/attach-ticket';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { prepareFeed } from '@/server/gateway';
import { json, route } from '@/server/http';
import { applyKeyboardLayout, keyboardLayoutOf } from '@/server/keyboard';
import { vmView } from '@/server/present';
import { StepTimes } from '@/server/step-times';
import { openDesktop } from '@/server/vms';

/**
 * "Open desktop": creates the personal desktop on first use, or resumes it; the gateway starts
 * watching it meanwhile, so its picture is there when the viewer page attaches. The answer
 * carries the first attach ticket, so the page joins the gateway while it navigates to the
 * viewer (an early attach), and a Server-Timing header with each step's duration.
 */
export const POST = route(async (req: NextRequest) => {
  const times = new StepTimes();
  const viewer = await times.time('session', () => requireUser(req));
  const started = Date.now();
  const policy = pagePolicy(viewer);
  const [vm, layout] = await Promise.all([
    openDesktop(db(), viewer, clientAddress(req.headers), times),
    keyboardLayoutOf(db(), viewer.id),
  ]);
  prepareFeed(vm);
  applyKeyboardLayout(db(), vm, layout);
  const attach = vm.domainId
    ? await times.time('ticket', () =>
        pageTicket({ domainId: vm.domainId!, hostId: vm.hostId }, viewer, policy),
      )
    : null;
  const response = json({ vm: vmView(vm), attach, tookMs: Date.now() - started });
  response.headers.set('Server-Timing', times.header());
  return response;
});
