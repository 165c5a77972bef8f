import type { NextRequest } from 'next/server';
import { idSchema, resetPasswordSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clearAccountFailures } from '@/server/auth/lockout';
import { hashPassword } from '@/server/auth/password';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { revokeAllSessions } from '@/server/auth/sessions';
import { db } from '@/server/db';
import { json, notFound, parseBody, route } from '@/server/http';

/** Sets a new password, signs the user out everywhere and clears their lockout. */
export const POST = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such user.');
  const { password } = await parseBody(req, resetPasswordSchema);
  const user = await db().user.findUnique({ where: { id } });
  if (!user) throw notFound('No such user.');
  await db().user.update({ where: { id }, data: { passwordHash: await hashPassword(password) } });
  await clearAccountFailures(db(), user.email);
  const revoked = await revokeAllSessions(db(), id, 'password-reset');
  await audit(db(), {
    action: 'user.password-reset',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'user',
    targetId: id,
    address: clientAddress(req.headers),
    details: { email: user.email, sessionsRevoked: revoked },
  });
  return json({ ok: true });
});
