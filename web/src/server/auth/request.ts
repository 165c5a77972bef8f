// Per-request auth for route handlers and server components.
import { cookies } from 'next/headers';
import type { NextRequest, NextResponse } from 'next/server';
import type { Role } from '../../lib/validation.ts';
import { config } from '../config.ts';
import { db } from '../db.ts';
import { forbidden, json, unauthorized } from '../http.ts';
import type { LockoutSettings } from './lockout.ts';
import type { SessionSettings } from './sessions.ts';
import { activeSessionUser } from './sessions.ts';
import { ACCESS_COOKIE, REFRESH_COOKIE, REFRESH_COOKIE_PATH, verifyAccessToken } from './tokens.ts';

export interface Viewer {
  id: string;
  email: string;
  name: string;
  role: Role;
  sessionId: string;
  maxVms: number;
  maxMemoryMiB: number;
}

export function sessionSettings(): SessionSettings {
  const c = config();
  return {
    sessionSecret: c.SESSION_SECRET,
    accessTtlSeconds: c.ACCESS_TOKEN_MINUTES * 60,
    sessionTtlSeconds: c.SESSION_DAYS * 86_400,
  };
}

export function lockoutSettings(): LockoutSettings {
  const c = config();
  return {
    maxPerAccountAddress: c.LOGIN_MAX_FAILURES_ACCOUNT,
    maxPerAddress: c.LOGIN_MAX_FAILURES_ADDRESS,
    windowMinutes: c.LOGIN_LOCKOUT_MINUTES,
    slowdownMaxSeconds: c.LOGIN_SLOWDOWN_MAX_SECONDS,
  };
}

/** The client's address: the last x-forwarded-for hop, which Next's server sets from the socket. */
export function clientAddress(h: Headers): string {
  const forwarded = h.get('x-forwarded-for');
  if (forwarded) {
    const hops = forwarded
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (hops.length) return hops[hops.length - 1]!.replace(/^::ffff:/, '');
  }
  return h.get('x-real-ip') ?? 'unknown';
}

/**
 * Whether the browser reached the portal over HTTPS: web/server.mjs sets x-forwarded-proto from
 * the socket (TLS_CERT_FILE) and drops any a client sent, unless TRUST_PROXY lets a reverse proxy
 * in front say so. PORTAL_PUBLIC_URL with https covers proxies that do not send it.
 */
export function isHttps(h: Headers): boolean {
  const proto = h.get('x-forwarded-proto')?.split(',')[0]?.trim();
  return proto === 'https' || Boolean(config().PORTAL_PUBLIC_URL?.startsWith('https:'));
}

async function viewerFrom(token: string | undefined): Promise<Viewer | null> {
  const claims = await verifyAccessToken(config().SESSION_SECRET, token);
  if (!claims) return null;
  const user = await activeSessionUser(db(), claims.sid, claims.sub);
  if (!user) return null;
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role === 'admin' ? 'admin' : 'user',
    sessionId: claims.sid,
    maxVms: user.maxVms,
    maxMemoryMiB: user.maxMemoryMiB,
  };
}

/** Route handlers that also serve anonymous callers: the signed-in user, or null. */
export async function optionalUser(req: NextRequest): Promise<Viewer | null> {
  return viewerFrom(req.cookies.get(ACCESS_COOKIE)?.value);
}

/** Route handlers: the signed-in user, checked against the database (revocation, disabled). */
export async function requireUser(req: NextRequest): Promise<Viewer> {
  const viewer = await viewerFrom(req.cookies.get(ACCESS_COOKIE)?.value);
  if (!viewer) throw unauthorized();
  return viewer;
}

export async function requireAdmin(req: NextRequest): Promise<Viewer> {
  const viewer = await requireUser(req);
  if (viewer.role !== 'admin') throw forbidden('Administrators only.');
  return viewer;
}

/** Server components: the signed-in user or null. */
export async function currentViewer(): Promise<Viewer | null> {
  const jar = await cookies();
  return viewerFrom(jar.get(ACCESS_COOKIE)?.value);
}

export function setAuthCookies(
  res: NextResponse,
  req: NextRequest,
  t: { accessToken: string; refreshToken: string; refreshExpiresAt: Date },
): void {
  const secure = isHttps(req.headers);
  res.cookies.set(ACCESS_COOKIE, t.accessToken, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    maxAge: Math.round(sessionSettings().accessTtlSeconds),
  });
  res.cookies.set(REFRESH_COOKIE, t.refreshToken, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: REFRESH_COOKIE_PATH,
    expires: t.refreshExpiresAt,
  });
}

export function clearAuthCookies(res: NextResponse, req: NextRequest): void {
  const secure = isHttps(req.headers);
  res.cookies.set(ACCESS_COOKIE, '', {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    maxAge: 0,
  });
  res.cookies.set(REFRESH_COOKIE, '', {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: REFRESH_COOKIE_PATH,
    maxAge: 0,
  });
}

/** A refused sign-in step as the JSON answer the login form shows (with Retry-After when locked). */
export function refusalResponse(r: {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
}): NextResponse {
  const headers: Record<string, string> = r.retryAfterSeconds
    ? { 'Retry-After': String(r.retryAfterSeconds) }
    : {};
  return json(
    { error: r.code, message: r.message, retryAfterSeconds: r.retryAfterSeconds },
    { status: r.status, headers },
  );
}
