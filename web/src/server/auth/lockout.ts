// Sign-in throttling. Failures are rows in LoginFailure (email, address, time) so every portal
// process sees the same counts. Three rules, none of which lets a stranger lock the owner out:
// - one account from one address: after `maxPerAccountAddress` failures within the window that
//   pair is locked until the window has passed (guessing from one place stops);
// - one address: after `maxPerAddress` failures on any accounts it is locked (spraying stops);
// - one account from anywhere else: once `maxPerAccountAddress` failures came from addresses
//   the account never signed in from, attempts from such addresses must wait a growing interval
//   (1 s, 2 s, 4 s, ... up to `slowdownMaxSeconds`) after the last failure. Addresses the owner
//   has signed in from before (KnownAddress) are never slowed down, so a distributed guesser
//   costs the owner nothing.
// An administrator can clear an account's failures (unlock); a successful sign-in clears the
// failures of that account from that address.
import type { Db } from '@raydesk/db';

export interface LockoutSettings {
  /** Failures for one account from one address within the window before that pair is locked. */
  maxPerAccountAddress: number;
  /** Failures from one address, any accounts, within the window before the address is locked. */
  maxPerAddress: number;
  windowMinutes: number;
  /** Longest wait between attempts on a much-failed account from an address not its owner's. */
  slowdownMaxSeconds: number;
}

export type LockScope = 'address' | 'account-address' | 'slowdown';

export type LockoutState =
  | { locked: false }
  | { locked: true; scope: LockScope; retryAfterSeconds: number; message: string };

function durationText(seconds: number): string {
  if (seconds < 90) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

function messageFor(scope: LockScope, retryAfterSeconds: number): string {
  const wait = durationText(retryAfterSeconds);
  switch (scope) {
    case 'address':
      return `Too many failed sign-ins from your network address. Try again in ${wait}.`;
    case 'account-address':
      return (
        `Too many failed sign-ins for this account from your network address. It is locked ` +
        `here for ${wait}; try again later or ask an administrator to unlock it.`
      );
    case 'slowdown':
      return (
        `This account had many failed sign-ins recently, so sign-ins from new places are ` +
        `slowed down. Try again in ${wait}.`
      );
  }
}

/** The wait after `failures` failures from strangers: none below the threshold, then doubling. */
export function slowdownSeconds(s: LockoutSettings, failures: number): number {
  if (failures < s.maxPerAccountAddress) return 0;
  const exponent = Math.min(failures - s.maxPerAccountAddress, 30);
  return Math.min(s.slowdownMaxSeconds, 2 ** exponent);
}

/** Addresses the account behind `email` has signed in from (none for unknown accounts). */
export async function knownAddresses(db: Db, email: string): Promise<string[]> {
  const rows = await db.knownAddress.findMany({
    where: { user: { email } },
    select: { address: true },
  });
  return rows.map((r) => r.address);
}

export async function lockoutState(
  db: Db,
  s: LockoutSettings,
  email: string,
  address: string,
  now = new Date(),
): Promise<LockoutState> {
  const windowMs = s.windowMinutes * 60_000;
  const since = new Date(now.getTime() - windowMs);
  const locked = (scope: LockScope, untilMs: number): LockoutState => {
    const retryAfterSeconds = Math.max(1, Math.ceil((untilMs - now.getTime()) / 1000));
    return {
      locked: true,
      scope,
      retryAfterSeconds,
      message: messageFor(scope, retryAfterSeconds),
    };
  };
  // Locked until the oldest of the last `max` failures leaves the window.
  const countLock = async (
    scope: LockScope,
    where: { address: string } | { email: string; address: string },
    max: number,
  ): Promise<LockoutState | null> => {
    const rows = await db.loginFailure.findMany({
      where: { ...where, at: { gte: since } },
      orderBy: { at: 'desc' },
      take: max,
      select: { at: true },
    });
    if (rows.length < max) return null;
    return locked(scope, rows[rows.length - 1]!.at.getTime() + windowMs);
  };
  const byAddress = await countLock('address', { address }, s.maxPerAddress);
  if (byAddress) return byAddress;
  const byPair = await countLock('account-address', { email, address }, s.maxPerAccountAddress);
  if (byPair) return byPair;

  const known = await knownAddresses(db, email);
  if (known.includes(address)) return { locked: false };
  const strangers = { email, address: { notIn: known }, at: { gte: since } };
  const failures = await db.loginFailure.count({ where: strangers });
  const wait = slowdownSeconds(s, failures);
  if (wait === 0) return { locked: false };
  const last = await db.loginFailure.findFirst({
    where: strangers,
    orderBy: { at: 'desc' },
    select: { at: true },
  });
  const until = (last?.at.getTime() ?? 0) + wait * 1000;
  return until > now.getTime() ? locked('slowdown', until) : { locked: false };
}

export async function recordFailure(
  db: Db,
  email: string,
  address: string,
  now = new Date(),
): Promise<void> {
  await db.loginFailure.create({ data: { email, address, at: now } });
}

/** A successful sign-in: this address is the owner's from now on, and its failures are cleared. */
export async function recordSuccess(
  db: Db,
  user: { id: string; email: string },
  address: string,
  now = new Date(),
): Promise<void> {
  await db.loginFailure.deleteMany({ where: { email: user.email, address } });
  await db.knownAddress.upsert({
    where: { userId_address: { userId: user.id, address } },
    create: { userId: user.id, address, firstAt: now, lastAt: now },
    update: { lastAt: now },
  });
}

/** Admin unlock: forgets every failure recorded against the account. Returns how many. */
export async function clearAccountFailures(db: Db, email: string): Promise<number> {
  return (await db.loginFailure.deleteMany({ where: { email } })).count;
}

export interface AccountLockSummary {
  /** Failed sign-ins within the window, from any address. */
  failures: number;
  /** Addresses locked out of this account right now. */
  lockedAddresses: number;
}

/** Per-email failure counts for the admin console, in one query. */
export async function lockSummaries(
  db: Db,
  s: LockoutSettings,
  now = new Date(),
): Promise<Map<string, AccountLockSummary>> {
  const since = new Date(now.getTime() - s.windowMinutes * 60_000);
  const groups = await db.loginFailure.groupBy({
    by: ['email', 'address'],
    where: { at: { gte: since } },
    _count: { _all: true },
  });
  const out = new Map<string, AccountLockSummary>();
  for (const g of groups) {
    const summary = out.get(g.email) ?? { failures: 0, lockedAddresses: 0 };
    summary.failures += g._count._all;
    if (g._count._all >= s.maxPerAccountAddress) summary.lockedAddresses += 1;
    out.set(g.email, summary);
  }
  return out;
}

/** Housekeeping: drop failures older than a day and addresses unused for 180 days. */
export async function pruneFailures(db: Db, now = new Date()): Promise<void> {
  await db.loginFailure.deleteMany({ where: { at: { lt: new Date(now.getTime() - 86_400_000) } } });
  await db.knownAddress.deleteMany({
    where: { lastAt: { lt: new Date(now.getTime() - 180 * 86_400_000) } },
  });
}
