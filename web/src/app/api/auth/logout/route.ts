import type { NextRequest } from 'next/server';
import { audit } from '@/server/audit';
import { clearAuthCookies, clientAddress } from '@/server/auth/request';
import { revokeSession, sessionOfRefreshToken } from '@/server/auth/sessions';
import { ACCESS_COOKIE, REFRESH_COOKIE, verifyAccessToken } from '@/server/auth/tokens';
import { config } from '@/server/config';
import { db } from '@/server/db';
import { json, route } from '@/server/http';
import { destroyDisposables } from '@/server/vms';

/** Ends this sign-in: revokes the refresh-token family and destroys the user's disposable VMs. */
export const POST = route(async (req: NextRequest) => {
  const address = clientAddress(req.headers);
  // The access token may have expired; the refresh token still names the session.
  const claims = await verifyAccessToken(
    config().SESSION_SECRET,
    req.cookies.get(ACCESS_COOKIE)?.value,
    Date.now() - 0,
  );
  const sessionId =
    claims?.sid ?? (await sessionOfRefreshToken(db(), req.cookies.get(REFRESH_COOKIE)?.value));
  let destroyed = 0;
  if (sessionId) {
    const session = await db().loginSession.findUnique({
      where: { id: sessionId },
      include: { user: true },
    });
    if (session) {
      await revokeSession(db(), session.id, 'logout');
      destroyed = await destroyDisposables(db(), session.userId, 'logout', {
        id: session.userId,
        email: session.user.email,
        address,
      });
      await audit(db(), {
        action: 'logout',
        actorId: session.userId,
        actorEmail: session.user.email,
        targetType: 'session',
        targetId: session.id,
        address,
        details: { disposablesDestroyed: destroyed },
      });
    }
  }
  const res = json({ ok: true, disposablesDestroyed: destroyed });
  clearAuthCookies(res, req);
  return res;
});
