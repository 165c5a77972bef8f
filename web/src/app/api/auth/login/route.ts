import type { NextRequest } from 'next/server';
import { loginSchema } from '@/lib/validation';
import { signIn } from '@/server/auth/login';
import {
  clientAddress,
  lockoutSettings,
  sessionSettings,
  refusalResponse,
  setAuthCookies,
} from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseBody, route } from '@/server/http';

export const POST = route(async (req: NextRequest) => {
  const input = await parseBody(req, loginSchema);
  const meta = {
    userAgent: req.headers.get('user-agent') ?? '',
    address: clientAddress(req.headers),
  };
  const result = await signIn(
    db(),
    { session: sessionSettings(), lockout: lockoutSettings() },
    input,
    meta,
  );
  if (result.ok === false) return refusalResponse(result);
  // No cookies yet: the challenge only lets the same browser take the second step.
  if (result.ok === 'second-factor') {
    return json({ secondFactor: { step: result.step, challenge: result.challenge } });
  }
  const res = json({ user: result.user });
  setAuthCookies(res, req, result);
  return res;
});
