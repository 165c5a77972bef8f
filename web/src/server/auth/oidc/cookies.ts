// The cookies of a single sign-on: the flow's sealed transaction (to the callback only) and,
// when a second factor comes next, its challenge (to the sign-in page only).
import type { NextRequest, NextResponse } from 'next/server';
import { isHttps } from '../request.ts';
import { CHALLENGE_TTL_SECONDS } from '../tokens.ts';
import {
  TRANSACTION_COOKIE,
  TRANSACTION_COOKIE_PATH,
  TRANSACTION_TTL_SECONDS,
} from './provider.ts';

export const SECOND_STEP_COOKIE = 'rd_sso_step';
const SECOND_STEP_PATH = '/login';

// Lax: the provider sends the browser back with a top-level GET, which carries Lax cookies.
const base = (req: NextRequest) =>
  ({ httpOnly: true, sameSite: 'lax', secure: isHttps(req.headers) }) as const;

export function setTransactionCookie(res: NextResponse, req: NextRequest, sealed: string): void {
  res.cookies.set(TRANSACTION_COOKIE, sealed, {
    ...base(req),
    path: TRANSACTION_COOKIE_PATH,
    maxAge: TRANSACTION_TTL_SECONDS,
  });
}

export function clearTransactionCookie(res: NextResponse, req: NextRequest): void {
  res.cookies.set(TRANSACTION_COOKIE, '', {
    ...base(req),
    path: TRANSACTION_COOKIE_PATH,
    maxAge: 0,
  });
}

export function setSecondStepCookie(res: NextResponse, req: NextRequest, challenge: string): void {
  res.cookies.set(SECOND_STEP_COOKIE, challenge, {
    ...base(req),
    path: SECOND_STEP_PATH,
    maxAge: CHALLENGE_TTL_SECONDS,
  });
}

export function clearSecondStepCookie(res: NextResponse, req: NextRequest): void {
  res.cookies.set(SECOND_STEP_COOKIE, '', { ...base(req), path: SECOND_STEP_PATH, maxAge: 0 });
}
