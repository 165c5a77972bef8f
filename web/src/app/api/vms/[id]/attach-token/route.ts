import type { NextRequest } from 'next/server';
import { attachRequestSchema, idSchema } from '@/lib/validation';
import { attachTicket } from '@/server/attach-ticket';
import { audit } from '@/server/audit';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { HttpError, json, notFound, parseBody, route } from '@/server/http';

type Ctx = { params: Promise<{ id: string }> };

/**
 * A short-lived token the viewer presents to the gateway. Own VM: control (or view if asked).
 * Another user's VM: admins get view-only (shadowing, audited); everyone else gets 404.
 */
export const POST = route(async (req: NextRequest, ctx: Ctx) => {
  const viewer = await requireUser(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such VM.');
  const body = await parseBody(req, attachRequestSchema);
  const vm = await db().vm.findFirst({
    where: { id, state: { not: 'destroyed' } },
    include: { owner: true },
  });
  const own = vm?.ownerId === viewer.id;
  if (!vm || (!own && viewer.role !== 'admin')) throw notFound('No such VM.');
  if (!vm.domainId) throw new HttpError(409, 'not_ready', 'This VM is still being created.');
  const mode = own ? (body.mode ?? 'control') : 'view';
  const address = clientAddress(req.headers);
  const ticket = await attachTicket({ domainId: vm.domainId, hostId: vm.hostId }, viewer, mode, {
    userAgent: req.headers.get('user-agent') ?? '',
    address,
  });
  if (!own) {
    await audit(db(), {
      action: 'session.shadow',
      actorId: viewer.id,
      actorEmail: viewer.email,
      targetType: 'vm',
      targetId: vm.id,
      address,
      details: { owner: vm.owner.email, domainId: vm.domainId, jti: ticket.jti },
    });
  }
  if (vm.kind === 'disposable')
    await db().vm.update({ where: { id: vm.id }, data: { lastSeenAt: new Date() } });
  return json({
    token: ticket.token,
    expiresIn: ticket.expiresIn,
    vm: vm.domainId,
    mode,
    gatewayUrl: ticket.gatewayUrl,
    gatewayPath: ticket.gatewayPath,
  });
});
