import { NextResponse, type NextRequest } from 'next/server';
import { safeNextPath } from '@/lib/safe-next';
import { setTransactionCookie } from '@/server/auth/oidc/cookies';
import { beginSignIn, SsoError } from '@/server/auth/oidc/provider';
import { auditSsoFailure } from '@/server/auth/oidc/sign-in';
import { clientAddress } from '@/server/auth/request';
import { config } from '@/server/config';
import { db } from '@/server/db';
import { redirectToPath } from '@/server/http';
import { log } from '@/server/log';

/** "Sign in with …": off to the provider, with state, nonce and a PKCE challenge. */
export async function GET(req: NextRequest): Promise<NextResponse> {
  const next = safeNextPath(req.nextUrl.searchParams.get('next'));
  const back = (failure: string) =>
    redirectToPath(req, `/login?sso=${failure}&next=${encodeURIComponent(next)}`, 303);
  const settings = config().oidc;
  if (!settings) return back('off');
  try {
    const { url, transaction } = await beginSignIn(settings, config().SESSION_SECRET, next);
    const res = new NextResponse(null, {
      status: 303,
      headers: { Location: url.href, 'Cache-Control': 'no-store' },
    });
    setTransactionCookie(res, req, transaction);
    return res;
  } catch (error) {
    const failure = error instanceof SsoError ? error.failure : 'unavailable';
    log.warn(
      { err: error instanceof SsoError ? error.cause : error },
      'single sign-on start failed',
    );
    await auditSsoFailure(
      db(),
      { userAgent: req.headers.get('user-agent') ?? '', address: clientAddress(req.headers) },
      failure,
      { issuer: settings.issuer.href },
      error instanceof SsoError && error.cause instanceof Error ? error.cause.message : undefined,
    );
    return back(failure);
  }
}
