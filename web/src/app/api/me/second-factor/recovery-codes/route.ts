import type { NextRequest } from 'next/server';
import { confirmTotpSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { replaceOwnRecoveryCodes } from '@/server/auth/second-factor-account';
import { clientAddress, requireUser, sessionSettings } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseBody, route } from '@/server/http';

/** New recovery codes (the old ones stop working); needs a current code. */
export const POST = route(async (req: NextRequest) => {
  const me = await requireUser(req);
  const { code } = await parseBody(req, confirmTotpSchema);
  const recoveryCodes = await replaceOwnRecoveryCodes(
    db(),
    sessionSettings().sessionSecret,
    me.id,
    code,
  );
  await audit(db(), {
    action: 'totp.recovery_codes_replaced',
    actorId: me.id,
    actorEmail: me.email,
    targetType: 'user',
    targetId: me.id,
    address: clientAddress(req.headers),
  });
  return json({ recoveryCodes });
});
