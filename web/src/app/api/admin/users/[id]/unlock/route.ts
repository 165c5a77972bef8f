import type { NextRequest } from 'next/server';
import { idSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clearAccountFailures } from '@/server/auth/lockout';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, notFound, route } from '@/server/http';

/** Clears the account's failed sign-ins: every address locked out of it may try again at once. */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such user.');
  const user = await db().user.findUnique({ where: { id } });
  if (!user) throw notFound('No such user.');
  const cleared = await clearAccountFailures(db(), user.email);
  await audit(db(), {
    action: 'user.unlock',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'user',
    targetId: id,
    address: clientAddress(req.headers),
    details: { email: user.email, failuresCleared: cleared },
  });
  return json({ ok: true, failuresCleared: cleared });
});
