// Access JWTs (jose, HS256): short-lived, carried in an HttpOnly cookie, verified by the proxy
// on every request and again (with a database check) by every route. Refresh tokens are opaque
// random strings; only their SHA-256 is stored.
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { Role } from '../../lib/validation.ts';

export const ACCESS_COOKIE = 'rd_access';
export const REFRESH_COOKIE = 'rd_refresh';
/** The refresh cookie only travels to the auth endpoints. */
export const REFRESH_COOKIE_PATH = '/api/auth';

const ISSUER = 'raydesk-portal';
const AUDIENCE = 'raydesk-portal-session';

export interface AccessClaims {
  sub: string;
  sid: string;
  role: Role;
  name: string;
}

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signAccessToken(
  secret: string,
  claims: AccessClaims,
  ttlSeconds: number,
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ sid: claims.sid, role: claims.role, name: claims.name })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claims.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.round(ttlSeconds))
    .sign(key(secret));
}

export async function verifyAccessToken(
  secret: string,
  token: string | undefined,
  now = Date.now(),
): Promise<AccessClaims | null> {
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'sub'],
    });
    const role = payload.role === 'admin' ? 'admin' : payload.role === 'user' ? 'user' : null;
    if (!role || typeof payload.sid !== 'string' || typeof payload.sub !== 'string') return null;
    return {
      sub: payload.sub,
      sid: payload.sid,
      role,
      name: typeof payload.name === 'string' ? payload.name : '',
    };
  } catch {
    return null;
  }
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Between a right password (or a single sign-on) and the second factor: who, what next. */
export interface SecondFactorChallenge {
  sub: string;
  step: 'totp' | 'enroll';
  /** How the first step was done: absent for a password, 'oidc' for single sign-on. */
  method?: 'oidc';
}

const CHALLENGE_AUDIENCE = 'raydesk-portal-second-factor';
export const CHALLENGE_TTL_SECONDS = 300;

export async function signChallenge(
  secret: string,
  challenge: SecondFactorChallenge,
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({
    step: challenge.step,
    ...(challenge.method ? { method: challenge.method } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(CHALLENGE_AUDIENCE)
    .setSubject(challenge.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + CHALLENGE_TTL_SECONDS)
    .sign(key(secret));
}

export async function verifyChallenge(
  secret: string,
  token: string,
  now = Date.now(),
): Promise<SecondFactorChallenge | null> {
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: CHALLENGE_AUDIENCE,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'sub'],
    });
    const step = payload.step === 'totp' || payload.step === 'enroll' ? payload.step : null;
    if (!step || typeof payload.sub !== 'string') return null;
    return { sub: payload.sub, step, ...(payload.method === 'oidc' ? { method: 'oidc' } : {}) };
  } catch {
    return null;
  }
}
