// Email + password sign-in with lockout and auditing. Every refusal that depends on the password
// (wrong password, unknown account, disabled account) takes the same path and gives the same
// answer, so the response never tells whether a password was right.
import type { Db } from '@raydesk/db';
import { audit } from '../audit.ts';
import { dummyHash, verifyPassword } from './password.ts';
import { lockoutState, recordFailure, recordSuccess, type LockoutSettings } from './lockout.ts';
import { startSession, type IssuedTokens, type SessionSettings } from './sessions.ts';
import { signChallenge, verifyChallenge } from './tokens.ts';
import {
  beginEnrolment,
  checkSecondFactor,
  completeEnrolment,
  totpRequired,
  type Enrolment,
} from './totp.ts';

const WRONG_CREDENTIALS = 'That email and password do not match an account.';

type SignedInUser = { id: string; email: string; name: string; role: string };

export type SessionStarted = { ok: true; user: SignedInUser } & IssuedTokens;

/** The password was right; the second factor (or enrolling one) comes next. */
export interface SecondFactorNeeded {
  ok: 'second-factor';
  step: 'totp' | 'enroll';
  /** Signed and short-lived; names the user for the next request. */
  challenge: string;
}

export interface LoginRefused {
  ok: false;
  status: number;
  code: 'invalid_credentials' | 'locked' | 'invalid_code' | 'challenge_expired';
  message: string;
  retryAfterSeconds?: number;
}

export type LoginResult = SessionStarted | SecondFactorNeeded | LoginRefused;

const WRONG_CODE =
  'That code is not right. Use the current code from your app, or a recovery code.';
const CHALLENGE_EXPIRED = 'The sign-in took too long. Please enter your email and password again.';

export type Settings = { session: SessionSettings; lockout: LockoutSettings };
export type Meta = { userAgent: string; address: string };

export async function signIn(
  db: Db,
  settings: Settings,
  input: { email: string; password: string },
  meta: Meta,
  now = new Date(),
): Promise<LoginResult> {
  const { email, password } = input;
  const locked = await refusedByLockout(db, settings, email, meta, now);
  if (locked) return locked;
  const user = await db.user.findUnique({ where: { email } });
  const good = user
    ? await verifyPassword(user.passwordHash, password)
    : (await verifyPassword(await dummyHash(), password), false);
  if (!user || !good || user.disabled) {
    // The audit log (admins only) may say why; the answer to the client may not.
    const reason = !user ? 'unknown-account' : !good ? 'wrong-password' : 'disabled';
    return refuse(db, settings, { email, userId: user?.id ?? null, reason }, meta, now, {
      code: 'invalid_credentials',
      message: WRONG_CREDENTIALS,
    });
  }
  const step = user.totpEnabledAt ? 'totp' : (await totpRequired(db, user.id)) ? 'enroll' : null;
  if (step) {
    await audit(db, {
      action: 'login.password_ok',
      actorId: user.id,
      actorEmail: email,
      address: meta.address,
      details: { next: step },
    });
    const challenge = await signChallenge(
      settings.session.sessionSecret,
      { sub: user.id, step },
      now.getTime(),
    );
    return { ok: 'second-factor', step, challenge };
  }
  return startSignedInSession(db, settings, user, meta, now, {});
}

/** The secret to enrol, for a sign-in whose groups require a second factor the user lacks. */
export async function enrolAtSignIn(
  db: Db,
  settings: Settings,
  challenge: string,
  now = new Date(),
): Promise<Enrolment | null> {
  const c = await verifyChallenge(settings.session.sessionSecret, challenge, now.getTime());
  if (!c || c.step !== 'enroll') return null;
  const user = await db.user.findUnique({ where: { id: c.sub } });
  if (!user || user.disabled || user.totpEnabledAt) return null;
  return beginEnrolment(db, settings.session.sessionSecret, user);
}

/**
 * The second step of a sign-in: a code from the authenticator app (or a recovery code) for the
 * user the challenge names. Enrolling users confirm their new secret the same way and get their
 * recovery codes back, once.
 */
export async function completeSignIn(
  db: Db,
  settings: Settings,
  input: { challenge: string; code: string },
  meta: Meta,
  now = new Date(),
): Promise<(SessionStarted & { recoveryCodes?: string[] }) | LoginRefused> {
  const c = await verifyChallenge(settings.session.sessionSecret, input.challenge, now.getTime());
  const user = c ? await db.user.findUnique({ where: { id: c.sub } }) : null;
  if (!c || !user || user.disabled) {
    return { ok: false, status: 401, code: 'challenge_expired', message: CHALLENGE_EXPIRED };
  }
  const locked = await refusedByLockout(db, settings, user.email, meta, now);
  if (locked) return locked;
  if (c.step === 'totp' && !user.totpEnabledAt) {
    // Reset by an admin since the password step.
    return { ok: false, status: 401, code: 'challenge_expired', message: CHALLENGE_EXPIRED };
  }
  const check = await checkSecondFactor(
    db,
    settings.session.sessionSecret,
    user.id,
    input.code,
    now,
  );
  if (!check.ok) {
    return refuse(
      db,
      settings,
      { email: user.email, userId: user.id, reason: 'wrong-second-factor' },
      meta,
      now,
      { code: 'invalid_code', message: WRONG_CODE },
    );
  }
  const recoveryCodes = c.step === 'enroll' ? await completeEnrolment(db, user.id, now) : undefined;
  if (recoveryCodes) {
    await audit(db, {
      action: 'totp.enrolled',
      actorId: user.id,
      actorEmail: user.email,
      targetType: 'user',
      targetId: user.id,
      address: meta.address,
    });
  }
  const started = await startSignedInSession(db, settings, user, meta, now, {
    secondFactor: check.via,
    ...(c.method ? { method: c.method } : {}),
  });
  return recoveryCodes ? { ...started, recoveryCodes } : started;
}

/** A session for a user whose sign-in is complete (password sign-in or single sign-on). */
export async function startSignedInSession(
  db: Db,
  settings: Settings,
  user: SignedInUser,
  meta: Meta,
  now: Date,
  details: Record<string, string>,
): Promise<SessionStarted> {
  await recordSuccess(db, user, meta.address, now);
  const tokens = await startSession(db, settings.session, user, meta, now);
  await db.user.update({ where: { id: user.id }, data: { lastLoginAt: now } });
  await audit(db, {
    action: 'login.success',
    actorId: user.id,
    actorEmail: user.email,
    targetType: 'session',
    targetId: tokens.sessionId,
    address: meta.address,
    details: { userAgent: meta.userAgent.slice(0, 200), ...details },
  });
  return {
    ok: true,
    user: { id: user.id, email: user.email, name: user.name, role: user.role },
    ...tokens,
  };
}

async function refusedByLockout(
  db: Db,
  settings: Settings,
  email: string,
  meta: Meta,
  now: Date,
): Promise<LoginRefused | null> {
  const lock = await lockoutState(db, settings.lockout, email, meta.address, now);
  if (!lock.locked) return null;
  await audit(db, {
    action: 'login.locked',
    actorEmail: email,
    address: meta.address,
    details: { scope: lock.scope },
  });
  return {
    ok: false,
    status: 429,
    code: 'locked',
    message: lock.message,
    retryAfterSeconds: lock.retryAfterSeconds,
  };
}

/** A wrong password or second factor: counted toward lockout, audited, answered alike. */
async function refuse(
  db: Db,
  settings: Settings,
  who: { email: string; userId: string | null; reason: string },
  meta: Meta,
  now: Date,
  answer: { code: 'invalid_credentials' | 'invalid_code'; message: string },
): Promise<LoginRefused> {
  const { email } = who;
  await recordFailure(db, email, meta.address, now);
  await audit(db, {
    action: 'login.failure',
    actorId: who.userId,
    actorEmail: email,
    address: meta.address,
    details: { userAgent: meta.userAgent.slice(0, 200), reason: who.reason },
  });
  const after = await lockoutState(db, settings.lockout, email, meta.address, now);
  if (after.locked && after.scope !== 'slowdown') {
    await audit(db, {
      action: 'login.lockout',
      actorId: who.userId,
      actorEmail: email,
      address: meta.address,
      details: { scope: after.scope, retryAfterSeconds: after.retryAfterSeconds },
    });
    return {
      ok: false,
      status: 429,
      code: 'locked',
      message: after.message,
      retryAfterSeconds: after.retryAfterSeconds,
    };
  }
  return {
    ok: false,
    status: 401,
    code: answer.code,
    message: after.locked ? `${answer.message} ${after.message}` : answer.message,
    ...(after.locked ? { retryAfterSeconds: after.retryAfterSeconds } : {}),
  };
}
