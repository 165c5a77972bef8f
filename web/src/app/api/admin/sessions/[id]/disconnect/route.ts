import type { NextRequest } from 'next/server';
import { z } from 'zod';
import { disconnectSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { gatewayDisconnect } from '@/server/gateway';
import { json, notFound, parseBody, route } from '@/server/http';

/** Disconnects a live session at the gateway (the VM keeps running). Audited. */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (
    !z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9_-]+$/)
      .safeParse(id).success
  )
    throw notFound('No such session.');
  const body = await parseBody(req, disconnectSchema);
  const found = await gatewayDisconnect(id, body.reason ?? 'admin-disconnect');
  if (!found) throw notFound('No such session (it may have ended already).');
  await db().endpointConnection.updateMany({
    where: { gatewaySessionId: id, endedAt: null },
    data: { endedAt: new Date(), endReason: 'admin-disconnect' },
  });
  await audit(db(), {
    action: 'session.disconnect',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'session',
    targetId: id,
    address: clientAddress(req.headers),
    details: { reason: body.reason ?? null },
  });
  return json({ ok: true });
});
