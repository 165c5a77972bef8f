import type { NextRequest } from 'next/server';
import { idSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { removeSecondFactor } from '@/server/auth/totp';
import { db } from '@/server/db';
import { json, notFound, route } from '@/server/http';

/**
 * Resets a user's second factor (a lost phone): the secret and recovery codes are removed. If a
 * group requires one, the user enrols again at their next sign-in.
 */
export const DELETE = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such user.');
  const user = await db().user.findUnique({ where: { id } });
  if (!user) throw notFound('No such user.');
  await removeSecondFactor(db(), id);
  await audit(db(), {
    action: 'totp.reset',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'user',
    targetId: id,
    address: clientAddress(req.headers),
    details: { email: user.email },
  });
  return json({ ok: true });
});
