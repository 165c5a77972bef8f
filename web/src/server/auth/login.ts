// Email + password sign-in with lockout and auditing. Every refusal that depends on the password
// (wrong password, unknown account, disabled account) takes the same path and gives the same
// answer, so the response never tells whether a password was right.
import type { Db } from '@raydesk/db';
import { audit } from '../audit.ts';
import { dummyHash, verifyPassword } from './password.ts';
import { lockoutState, recordFailure, recordSuccess, type LockoutSettings } from './lockout.ts';
import { startSession, type IssuedTokens, type SessionSettings } from './sessions.ts';

const WRONG_CREDENTIALS = 'That email and password do not match an account.';

export type LoginResult =
  | ({ ok: true; user: { id: string; email: string; name: string; role: string } } & IssuedTokens)
  | {
      ok: false;
      status: number;
      code: 'invalid_credentials' | 'locked';
      message: string;
      retryAfterSeconds?: number;
    };

export async function signIn(
  db: Db,
  settings: { session: SessionSettings; lockout: LockoutSettings },
  input: { email: string; password: string },
  meta: { userAgent: string; address: string },
  now = new Date(),
): Promise<LoginResult> {
  const { email, password } = input;
  const lock = await lockoutState(db, settings.lockout, email, meta.address, now);
  if (lock.locked) {
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
  const user = await db.user.findUnique({ where: { email } });
  const good = user
    ? await verifyPassword(user.passwordHash, password)
    : (await verifyPassword(await dummyHash(), password), false);
  if (!user || !good || user.disabled) {
    await recordFailure(db, email, meta.address, now);
    // The audit log (admins only) may say why; the answer to the client may not.
    const reason = !user ? 'unknown-account' : !good ? 'wrong-password' : 'disabled';
    await audit(db, {
      action: 'login.failure',
      actorId: user?.id ?? null,
      actorEmail: email,
      address: meta.address,
      details: { userAgent: meta.userAgent.slice(0, 200), reason },
    });
    const after = await lockoutState(db, settings.lockout, email, meta.address, now);
    if (after.locked && after.scope !== 'slowdown') {
      await audit(db, {
        action: 'login.lockout',
        actorId: user?.id ?? null,
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
      code: 'invalid_credentials',
      message: after.locked ? `${WRONG_CREDENTIALS} ${after.message}` : WRONG_CREDENTIALS,
      ...(after.locked ? { retryAfterSeconds: after.retryAfterSeconds } : {}),
    };
  }
  await recordSuccess(db, user, meta.address, now);
  const tokens = await startSession(db, settings.session, user, meta, now);
  await db.user.update({ where: { id: user.id }, data: { lastLoginAt: now } });
  await audit(db, {
    action: 'login.success',
    actorId: user.id,
    actorEmail: email,
    targetType: 'session',
    targetId: tokens.sessionId,
    address: meta.address,
    details: { userAgent: meta.userAgent.slice(0, 200) },
  });
  return {
    ok: true,
    user: { id: user.id, email: user.email, name: user.name, role: user.role },
    ...tokens,
  };
}
