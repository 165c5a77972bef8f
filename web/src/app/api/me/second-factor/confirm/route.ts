import type { NextRequest } from 'next/server';
import { confirmTotpSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { confirmOwnEnrolment } from '@/server/auth/second-factor-account';
import { clientAddress, requireUser, sessionSettings } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseBody, route } from '@/server/http';

/** The first code from the app turns two-step sign-in on; the recovery codes come back once. */
export const POST = route(async (req: NextRequest) => {
  const me = await requireUser(req);
  const { code } = await parseBody(req, confirmTotpSchema);
  const recoveryCodes = await confirmOwnEnrolment(
    db(),
    sessionSettings().sessionSecret,
    me.id,
    code,
  );
  await audit(db(), {
    action: 'totp.enrolled',
    actorId: me.id,
    actorEmail: me.email,
    targetType: 'user',
    targetId: me.id,
    address: clientAddress(req.headers),
  });
  return json({ recoveryCodes });
});
