import type { NextRequest } from 'next/server';
import { idSchema, updateUserSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { revokeAllSessions } from '@/server/auth/sessions';
import { db } from '@/server/db';
import { HttpError, json, notFound, parseBody, route } from '@/server/http';

/** Role, disabled flag, quotas, name. Disabling signs the user out everywhere. */
export const PATCH = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const { id } = await ctx.params;
  if (!idSchema.safeParse(id).success) throw notFound('No such user.');
  const input = await parseBody(req, updateUserSchema);
  const user = await db().user.findUnique({ where: { id } });
  if (!user) throw notFound('No such user.');
  if (id === admin.id && (input.disabled === true || input.role === 'user')) {
    throw new HttpError(
      409,
      'self_lockout',
      'You cannot disable yourself or remove your own admin role.',
    );
  }
  const updated = await db().user.update({ where: { id }, data: input });
  if (input.disabled === true) await revokeAllSessions(db(), id, 'disabled');
  await audit(db(), {
    action: 'user.update',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'user',
    targetId: id,
    address: clientAddress(req.headers),
    details: { email: updated.email, changes: input },
  });
  return json({ ok: true });
});
