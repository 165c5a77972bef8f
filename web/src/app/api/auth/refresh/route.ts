import type { NextRequest } from 'next/server';
import { safeNextPath } from '@/lib/safe-next';
import {
  clearAuthCookies,
  clientAddress,
  sessionSettings,
  setAuthCookies,
} from '@/server/auth/request';
import { rotateRefreshToken } from '@/server/auth/sessions';
import { REFRESH_COOKIE } from '@/server/auth/tokens';
import { db } from '@/server/db';
import { json, redirectToPath, route } from '@/server/http';

const MESSAGES: Record<string, string> = {
  unknown: 'Please sign in.',
  expired: 'Your session has expired. Please sign in again.',
  revoked: 'You were signed out. Please sign in again.',
  disabled: 'This account is disabled.',
  reuse:
    'For your safety this session was ended, because its sign-in token was used twice. Please sign in again.',
  race: 'Your session was refreshed by another tab; retry.',
};

/** API clients: rotate the refresh token and get a fresh access token. */
export const POST = route(async (req: NextRequest) => {
  const result = await rotateRefreshToken(
    db(),
    sessionSettings(),
    req.cookies.get(REFRESH_COOKIE)?.value,
    { address: clientAddress(req.headers) },
  );
  if (!result.ok) {
    const res = json(
      {
        error: result.reason === 'race' ? 'refresh_race' : 'unauthenticated',
        message: MESSAGES[result.reason],
      },
      { status: result.reason === 'race' ? 409 : 401 },
    );
    if (result.reason !== 'race') clearAuthCookies(res, req);
    return res;
  }
  const res = json({ ok: true });
  setAuthCookies(res, req, result);
  return res;
});

/** Page navigations with an expired access token land here (from the proxy) and go back. */
export const GET = route(async (req: NextRequest) => {
  const next = safeNextPath(req.nextUrl.searchParams.get('next'));
  // A top-level navigation from another site may not drive rotations.
  if (req.headers.get('sec-fetch-site') === 'cross-site') {
    return redirectToPath(req, `/login?next=${encodeURIComponent(next)}`);
  }
  const result = await rotateRefreshToken(
    db(),
    sessionSettings(),
    req.cookies.get(REFRESH_COOKIE)?.value,
    { address: clientAddress(req.headers) },
  );
  if (!result.ok) {
    const reason =
      result.reason === 'reuse'
        ? '&reason=reuse'
        : result.reason === 'expired'
          ? '&reason=expired'
          : '';
    const res = redirectToPath(req, `/login?next=${encodeURIComponent(next)}${reason}`);
    clearAuthCookies(res, req);
    return res;
  }
  const res = redirectToPath(req, next);
  setAuthCookies(res, req, result);
  return res;
});
