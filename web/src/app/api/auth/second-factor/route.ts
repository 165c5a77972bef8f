import type { NextRequest } from 'next/server';
import { secondFactorSchema } from '@/lib/validation';
import { completeSignIn } from '@/server/auth/login';
import { clearSecondStepCookie } from '@/server/auth/oidc/cookies';
import {
  clientAddress,
  lockoutSettings,
  refusalResponse,
  sessionSettings,
  setAuthCookies,
} from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseBody, route } from '@/server/http';

/** The second step of a sign-in: the challenge from the password step and a code. */
export const POST = route(async (req: NextRequest) => {
  const input = await parseBody(req, secondFactorSchema);
  const result = await completeSignIn(
    db(),
    { session: sessionSettings(), lockout: lockoutSettings() },
    input,
    { userAgent: req.headers.get('user-agent') ?? '', address: clientAddress(req.headers) },
  );
  if (!result.ok) return refusalResponse(result);
  const res = json({ user: result.user, recoveryCodes: result.recoveryCodes ?? null });
  setAuthCookies(res, req, result);
  // A single sign-on's second step is done: the sign-in page must not offer it again.
  clearSecondStepCookie(res, req);
  return res;
});
