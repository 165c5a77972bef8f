import type { NextRequest } from 'next/server';
import { confirmTotpSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { secondFactorStatus, turnOffOwnSecondFactor } from '@/server/auth/second-factor-account';
import { clientAddress, requireUser, sessionSettings } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseBody, route } from '@/server/http';

export const GET = route(async (req: NextRequest) => {
  const me = await requireUser(req);
  return json(await secondFactorStatus(db(), me.id));
});

/** Turns two-step sign-in off (not allowed when a group requires it); needs a current code. */
export const DELETE = route(async (req: NextRequest) => {
  const me = await requireUser(req);
  const { code } = await parseBody(req, confirmTotpSchema);
  await turnOffOwnSecondFactor(db(), sessionSettings().sessionSecret, me.id, code);
  await audit(db(), {
    action: 'totp.disabled',
    actorId: me.id,
    actorEmail: me.email,
    targetType: 'user',
    targetId: me.id,
    address: clientAddress(req.headers),
  });
  return json(await secondFactorStatus(db(), me.id));
});
