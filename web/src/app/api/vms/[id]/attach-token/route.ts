import type { NextRequest } from 'next/server';
import { attachRequestSchema, idSchema } from '@/lib/validation';
import { issueAttachToken } from '@/server/attach';
import { audit } from '@/server/audit';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { chooseGateway, connectedHost, fleetMode } from '@/server/fleet';
import { fleetGatewayEndpoint, gatewayEndpoint } from '@/server/gateway';
import { HttpError, json, notFound, parseBody, route } from '@/server/http';
import { effectivePolicy } from '@/server/policy';

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
  // In a fleet the token names the VM's host; an offline host answers 503 in plain words.
  const host = fleetMode() && vm.hostId ? (await connectedHost(db(), vm.hostId, 1_000)).host : null;
  const issued = await issueAttachToken(
    {
      userId: viewer.id,
      domainId: vm.domainId,
      mode,
      name: viewer.name || viewer.email,
      role: viewer.role,
      // The viewer's own groups decide what this session may do (a shadowing admin's too).
      policy: (await effectivePolicy(db(), viewer.id)).session,
      email: viewer.email,
      ...(host ? { host: { id: host.id, url: host.url } } : {}),
    },
    { userAgent: req.headers.get('user-agent') ?? '', address },
  );
  if (!own) {
    await audit(db(), {
      action: 'session.shadow',
      actorId: viewer.id,
      actorEmail: viewer.email,
      targetType: 'vm',
      targetId: vm.id,
      address,
      details: { owner: vm.owner.email, domainId: vm.domainId, jti: issued.jti },
    });
  }
  if (vm.kind === 'disposable')
    await db().vm.update({ where: { id: vm.id }, data: { lastSeenAt: new Date() } });
  // In a fleet every (re)attach gets the least loaded live gateway, through the portal's origin.
  const gateway = fleetMode()
    ? fleetGatewayEndpoint((await chooseGateway(db())).id)
    : gatewayEndpoint();
  return json({
    token: issued.token,
    expiresIn: issued.expiresIn,
    vm: vm.domainId,
    mode,
    gatewayUrl: gateway.url,
    gatewayPath: gateway.path,
  });
});
