// Attach tokens: short-lived HS256 JWTs the portal mints (jose) and the gateway verifies at the
// socket.io handshake. Both sides use this file so the contract lives in one place.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import {
  ATTACH_TOKEN_ALGORITHM,
  ATTACH_TOKEN_AUDIENCE,
  ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS,
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
  const claims = {
    vm: grant.vm,
    mode: grant.mode,
    name: grant.name,
    role: grant.role,
    ...(grant.host ? { host: grant.host } : {}),
    ...(grant.policy ? { policy: grant.policy } : {}),
    ...(grant.email ? { email: grant.email } : {}),
  };
  return new SignJWT(claims)
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
  /** Remembers jtis while their tokens can verify, so a token attaches once; omit to allow reuse. */
  replayCache?: ReplayCache;
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
      clockTolerance: ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS,
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

/**
 * jti -> the second after which its token can no longer verify (exp plus the clock tolerance).
 * Forgetting a jti any earlier would let a used token attach again in that gap. Bounded so a
 * flood cannot grow it without limit.
 */
export class ReplayCache {
  private readonly forgetAfter = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {}

  /** True the first time a jti is seen while its token can still verify. */
  claim(jti: string, exp: number, now = Math.floor(Date.now() / 1000)): boolean {
    if (this.forgetAfter.size >= this.maxEntries) this.prune(now);
    const known = this.forgetAfter.get(jti);
    if (known !== undefined && known >= now) return false;
    if (this.forgetAfter.size >= this.maxEntries) return false; // full of live tokens: refuse, don't grow
    this.forgetAfter.set(jti, exp + ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS);
    return true;
  }

  prune(now = Math.floor(Date.now() / 1000)): void {
    for (const [jti, until] of this.forgetAfter) if (until < now) this.forgetAfter.delete(jti);
  }

  get size(): number {
    return this.forgetAfter.size;
  }
}
