// Sign-in lockout: too many failures for one account, or from one address, within the window
// lock further attempts until the window has passed. Failures are rows in LoginFailure so every
// portal process sees the same counts; a successful sign-in clears the account's failures.
import type { Db } from '../../../../prisma/client.ts';

export interface LockoutSettings {
  maxPerAccount: number;
  maxPerAddress: number;
  windowMinutes: number;
}

export type LockoutState =
  | { locked: false }
  | { locked: true; scope: 'account' | 'address'; retryAfterSeconds: number; message: string };

function minutesText(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

export async function lockoutState(
  db: Db,
  s: LockoutSettings,
  email: string,
  address: string,
  now = new Date(),
): Promise<LockoutState> {
  const since = new Date(now.getTime() - s.windowMinutes * 60_000);
  const windowMs = s.windowMinutes * 60_000;
  const check = async (
    scope: 'account' | 'address',
    where: { email: string } | { address: string },
    max: number,
  ): Promise<LockoutState | null> => {
    const rows = await db.loginFailure.findMany({
      where: { ...where, at: { gte: since } },
      orderBy: { at: 'desc' },
      take: max,
      select: { at: true },
    });
    if (rows.length < max) return null;
    // Locked until the oldest of the last `max` failures leaves the window.
    const oldest = rows[rows.length - 1]!.at.getTime();
    const retryAfterSeconds = Math.max(1, Math.ceil((oldest + windowMs - now.getTime()) / 1000));
    const message =
      scope === 'account'
        ? `Too many failed sign-ins for this account. It is locked for ${minutesText(retryAfterSeconds)}; try again later or ask an administrator.`
        : `Too many failed sign-ins from your network address. Try again in ${minutesText(retryAfterSeconds)}.`;
    return { locked: true, scope, retryAfterSeconds, message };
  };
  return (
    (await check('account', { email }, s.maxPerAccount)) ??
    (await check('address', { address }, s.maxPerAddress)) ?? { locked: false }
  );
}

export async function recordFailure(
  db: Db,
  email: string,
  address: string,
  now = new Date(),
): Promise<void> {
  await db.loginFailure.create({ data: { email, address, at: now } });
}

export async function clearAccountFailures(db: Db, email: string): Promise<void> {
  await db.loginFailure.deleteMany({ where: { email } });
}

/** Housekeeping: drop failures older than a day. */
export async function pruneFailures(db: Db, now = new Date()): Promise<void> {
  await db.loginFailure.deleteMany({ where: { at: { lt: new Date(now.getTime() - 86_400_000) } } });
}
