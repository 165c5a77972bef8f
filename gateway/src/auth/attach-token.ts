// Attach tokens: short-lived HS256 JWTs the portal mints (jose) and the gateway verifies at the
// socket.io handshake. Both sides use this file so the contract lives in one place.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import {
  ATTACH_TOKEN_ALGORITHM,
  ATTACH_TOKEN_AUDIENCE,
  ATTACH_TOKEN_ISSUER,
  ATTACH_TOKEN_MAX_TTL_SECONDS,
  ATTACH_TOKEN_TTL_SECONDS,
  attachClaimsSchema,
  type AttachClaims,
  type AttachGrant,
} from '../protocol/internal.ts';

export type { AttachClaims, AttachGrant };

function keyOf(secret: string | Uint8Array): Uint8Array {
  return typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
}

/** Portal side: mint a token for one attach. */
export async function mintAttachToken(
  secret: string | Uint8Array,
  grant: AttachGrant,
  ttlSeconds = ATTACH_TOKEN_TTL_SECONDS,
): Promise<string> {
  return new SignJWT({ vm: grant.vm, mode: grant.mode, name: grant.name, role: grant.role })
    .setProtectedHeader({ alg: ATTACH_TOKEN_ALGORITHM, typ: 'JWT' })
    .setIssuer(ATTACH_TOKEN_ISSUER)
    .setAudience(ATTACH_TOKEN_AUDIENCE)
    .setSubject(grant.sub)
    .setJti(grant.jti ?? randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(keyOf(secret));
}

export class AttachTokenError extends Error {
  constructor(
    readonly reason: 'invalid' | 'expired' | 'claims' | 'replayed' | 'lifetime',
    message: string,
  ) {
    super(message);
    this.name = 'AttachTokenError';
  }
}

export interface VerifyOptions {
  /** Remembers jtis until their exp so a token attaches once; omit to allow reuse. */
  replayCache?: ReplayCache;
  /** Allowed clock skew, seconds; default 5. */
  clockToleranceSec?: number;
}

/** Gateway side: verify signature (HS256 only), iss, aud, exp and the claim shapes. */
export async function verifyAttachToken(
  secret: string | Uint8Array,
  token: string,
  options: VerifyOptions = {},
): Promise<AttachClaims> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: [ATTACH_TOKEN_ALGORITHM],
      issuer: ATTACH_TOKEN_ISSUER,
      audience: ATTACH_TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'sub', 'jti'],
      clockTolerance: options.clockToleranceSec ?? 5,
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new AttachTokenError('expired', 'token expired');
    const message = error instanceof Error ? error.message : String(error);
    throw new AttachTokenError('invalid', message);
  }
  const parsed = attachClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    throw new AttachTokenError(
      'claims',
      parsed.error.issues.map((i) => i.path.join('.')).join(','),
    );
  }
  const claims = parsed.data;
  const now = Math.floor(Date.now() / 1000);
  const issuedAt = claims.iat ?? now;
  if (claims.exp - issuedAt > ATTACH_TOKEN_MAX_TTL_SECONDS) {
    throw new AttachTokenError('lifetime', 'token lifetime too long');
  }
  if (options.replayCache && !options.replayCache.claim(claims.jti, claims.exp)) {
    throw new AttachTokenError('replayed', 'token already used');
  }
  return claims;
}

/** jti -> exp, pruned as tokens expire. Bounded so a flood cannot grow it without limit. */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {}

  /** True the first time a jti is seen (before its exp). */
  claim(jti: string, exp: number): boolean {
    const now = Math.floor(Date.now() / 1000);
    if (this.seen.size >= this.maxEntries) this.prune(now);
    const known = this.seen.get(jti);
    if (known !== undefined && known >= now) return false;
    if (this.seen.size >= this.maxEntries) return false; // full of live tokens: refuse, don't grow
    this.seen.set(jti, exp);
    return true;
  }

  prune(now = Math.floor(Date.now() / 1000)): void {
    for (const [jti, exp] of this.seen) if (exp < now - 10) this.seen.delete(jti);
  }

  get size(): number {
    return this.seen.size;
  }
}
