import type { NextRequest } from 'next/server';
import { loginSchema } from '@/lib/validation';
import { signIn } from '@/server/auth/login';
import {
  clientAddress,
  lockoutSettings,
  sessionSettings,
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
  if (!result.ok) {
    const headers: Record<string, string> = result.retryAfterSeconds
      ? { 'Retry-After': String(result.retryAfterSeconds) }
      : {};
    return json(
      { error: result.code, message: result.message, retryAfterSeconds: result.retryAfterSeconds },
      { status: result.status, headers },
    );
  }
  const res = json({ user: result.user });
  setAuthCookies(res, req, result);
  return res;
});
