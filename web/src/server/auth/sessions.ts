// Sign-in sessions with rotating refresh tokens. A LoginSession is one refresh-token family:
// every refresh replaces the token; presenting a token that was already replaced (reuse: a
// stolen copy, or the thief's copy after the owner refreshed) revokes the whole family.
// Pure over (db, settings, now) so the tests drive it directly.
import type { Db } from '@raydesk/db';
import type { Role } from '../../lib/validation.ts';
import { audit } from '../audit.ts';
import { hashToken, newRefreshToken, signAccessToken } from './tokens.ts';

export interface SessionSettings {
  sessionSecret: string;
  accessTtlSeconds: number;
  sessionTtlSeconds: number;
  /** Two tabs refreshing at once: the loser's token was rotated moments ago. Not reuse. */
  raceGraceSeconds?: number;
}

export interface IssuedTokens {
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  refreshExpiresAt: Date;
}

interface UserLike {
  id: string;
  role: string;
  name: string;
}

async function issue(
  db: Db,
  s: SessionSettings,
  user: UserLike,
  sessionId: string,
  now: Date,
): Promise<{ accessToken: string; refreshToken: string; tokenId: string; refreshExpiresAt: Date }> {
  const refreshToken = newRefreshToken();
  const refreshExpiresAt = new Date(now.getTime() + s.sessionTtlSeconds * 1000);
  const row = await db.refreshToken.create({
    data: {
      sessionId,
      tokenHash: hashToken(refreshToken),
      expiresAt: refreshExpiresAt,
      createdAt: now,
    },
  });
  const accessToken = await signAccessToken(
    s.sessionSecret,
    { sub: user.id, sid: sessionId, role: user.role as Role, name: user.name },
    s.accessTtlSeconds,
    now.getTime(),
  );
  return { accessToken, refreshToken, tokenId: row.id, refreshExpiresAt };
}

export async function startSession(
  db: Db,
  s: SessionSettings,
  user: UserLike,
  meta: { userAgent: string; address: string },
  now = new Date(),
): Promise<IssuedTokens> {
  const session = await db.loginSession.create({
    data: {
      userId: user.id,
      userAgent: meta.userAgent.slice(0, 500),
      address: meta.address.slice(0, 100),
      createdAt: now,
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + s.sessionTtlSeconds * 1000),
    },
  });
  const t = await issue(db, s, user, session.id, now);
  return {
    sessionId: session.id,
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    refreshExpiresAt: t.refreshExpiresAt,
  };
}

export type RefreshResult =
  | ({ ok: true } & IssuedTokens)
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'disabled' | 'reuse' | 'race' };

export async function rotateRefreshToken(
  db: Db,
  s: SessionSettings,
  token: string | undefined,
  meta: { address: string },
  now = new Date(),
): Promise<RefreshResult> {
  if (!token || token.length > 200) return { ok: false, reason: 'unknown' };
  const row = await db.refreshToken.findUnique({
    where: { tokenHash: hashToken(token) },
    include: { session: { include: { user: true } } },
  });
  if (!row) return { ok: false, reason: 'unknown' };
  const session = row.session;
  if (session.revokedAt) return { ok: false, reason: 'revoked' };
  if (row.rotatedAt) {
    const graceMs = (s.raceGraceSeconds ?? 10) * 1000;
    if (now.getTime() - row.rotatedAt.getTime() <= graceMs) return { ok: false, reason: 'race' };
    await revokeSession(db, session.id, 'reuse', now);
    await audit(db, {
      action: 'auth.refresh-reuse',
      actorId: session.userId,
      actorEmail: session.user.email,
      targetType: 'session',
      targetId: session.id,
      address: meta.address,
      details: { message: 'A refresh token was used twice; the whole session was revoked.' },
    });
    return { ok: false, reason: 'reuse' };
  }
  if (row.expiresAt <= now || session.expiresAt <= now) return { ok: false, reason: 'expired' };
  if (session.user.disabled) {
    await revokeSession(db, session.id, 'disabled', now);
    return { ok: false, reason: 'disabled' };
  }
  // Claim the token atomically: only one concurrent refresh wins.
  const claimed = await db.refreshToken.updateMany({
    where: { id: row.id, rotatedAt: null },
    data: { rotatedAt: now },
  });
  if (claimed.count !== 1) return { ok: false, reason: 'race' };
  const t = await issue(db, s, session.user, session.id, now);
  await db.refreshToken.update({ where: { id: row.id }, data: { replacedById: t.tokenId } });
  await db.loginSession.update({ where: { id: session.id }, data: { lastUsedAt: now } });
  return {
    ok: true,
    sessionId: session.id,
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    refreshExpiresAt: t.refreshExpiresAt,
  };
}

export async function revokeSession(
  db: Db,
  sessionId: string,
  reason: string,
  now = new Date(),
): Promise<void> {
  await db.loginSession.updateMany({
    where: { id: sessionId, revokedAt: null },
    data: { revokedAt: now, revokeReason: reason },
  });
}

export async function revokeAllSessions(
  db: Db,
  userId: string,
  reason: string,
  now = new Date(),
): Promise<number> {
  const r = await db.loginSession.updateMany({
    where: { userId, revokedAt: null },
    data: { revokedAt: now, revokeReason: reason },
  });
  return r.count;
}

/** The session behind a refresh token, for logout. */
export async function sessionOfRefreshToken(
  db: Db,
  token: string | undefined,
): Promise<string | null> {
  if (!token || token.length > 200) return null;
  const row = await db.refreshToken.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { sessionId: true },
  });
  return row?.sessionId ?? null;
}

/** Is this session still good (not revoked, not expired, user enabled)? Returns the user. */
export async function activeSessionUser(
  db: Db,
  sessionId: string,
  userId: string,
  now = new Date(),
) {
  const session = await db.loginSession.findUnique({
    where: { id: sessionId },
    include: { user: true },
  });
  if (
    !session ||
    session.userId !== userId ||
    session.revokedAt ||
    session.expiresAt <= now ||
    session.user.disabled
  )
    return null;
  return session.user;
}
