import type { NextRequest, NextResponse } from 'next/server';
import { clearTransactionCookie, setSecondStepCookie } from '@/server/auth/oidc/cookies';
import { finishSignIn, SsoError, TRANSACTION_COOKIE } from '@/server/auth/oidc/provider';
import { auditSsoFailure, signInWithProvider } from '@/server/auth/oidc/sign-in';
import {
  clientAddress,
  lockoutSettings,
  sessionSettings,
  setAuthCookies,
} from '@/server/auth/request';
import { config } from '@/server/config';
import { db } from '@/server/db';
import { redirectToPath } from '@/server/http';
import { log } from '@/server/log';

/**
 * The provider sends the browser back here. Every outcome is a redirect: into the portal, to
 * the sign-in page's second step, or to the sign-in page with a plain-words reason.
 */
export async function GET(req: NextRequest): Promise<NextResponse> {
  const meta = {
    userAgent: req.headers.get('user-agent') ?? '',
    address: clientAddress(req.headers),
  };
  const settings = config().oidc;
  let next = '/';
  let res: NextResponse;
  try {
    if (!settings) throw new SsoError('off', 'single sign-on is not configured');
    const finished = await finishSignIn(
      settings,
      config().SESSION_SECRET,
      req.nextUrl.searchParams,
      req.cookies.get(TRANSACTION_COOKIE)?.value,
    );
    next = finished.next;
    const result = await signInWithProvider(
      db(),
      { session: sessionSettings(), lockout: lockoutSettings(), oidc: settings },
      finished.identity,
      meta,
    );
    if (result.ok === 'second-factor') {
      res = redirectToPath(req, `/login?sso=second-factor&next=${encodeURIComponent(next)}`, 303);
      setSecondStepCookie(res, req, result.challenge);
    } else {
      res = redirectToPath(req, next, 303);
      setAuthCookies(res, req, result);
    }
  } catch (error) {
    const failure = error instanceof SsoError ? error.failure : 'error';
    log.warn(
      { err: error instanceof SsoError ? (error.cause ?? error.message) : error },
      'single sign-on failed',
    );
    // Refusals of a known identity were audited where they were decided.
    const decided = ['unverified', 'no_account', 'conflict', 'disabled'].includes(failure);
    if (settings && !decided && failure !== 'error')
      await auditSsoFailure(
        db(),
        meta,
        failure as SsoError['failure'],
        { issuer: settings.issuer.href },
        (error as Error).message,
      );
    res = redirectToPath(req, `/login?sso=${failure}&next=${encodeURIComponent(next)}`, 303);
  }
  clearTransactionCookie(res, req);
  return res;
}
