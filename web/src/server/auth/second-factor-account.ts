// A signed-in user's own second factor: its state, enrolling, new recovery codes, turning it
// off. Changes that weaken it ask for a current code, so a borrowed unlocked browser is not
// enough to remove it.
import type { Db } from '@raydesk/db';
import { HttpError } from '../http.ts';
import {
  beginEnrolment,
  checkSecondFactor,
  completeEnrolment,
  newRecoveryCodes,
  remainingRecoveryCodes,
  removeSecondFactor,
  totpRequired,
  type Enrolment,
} from './totp.ts';

export interface SecondFactorStatus {
  enabled: boolean;
  enabledAt: string | null;
  /** One of the user's groups requires it: it cannot be turned off. */
  required: boolean;
  recoveryCodesLeft: number;
}

export async function secondFactorStatus(db: Db, userId: string): Promise<SecondFactorStatus> {
  const user = await db.user.findUniqueOrThrow({
    where: { id: userId },
    select: { totpEnabledAt: true },
  });
  return {
    enabled: Boolean(user.totpEnabledAt),
    enabledAt: user.totpEnabledAt?.toISOString() ?? null,
    required: await totpRequired(db, userId),
    recoveryCodesLeft: user.totpEnabledAt ? await remainingRecoveryCodes(db, userId) : 0,
  };
}

const wrongCode = () =>
  new HttpError(400, 'invalid_code', 'That code is not right. Use the current code from your app.');

export async function startOwnEnrolment(
  db: Db,
  sessionSecret: string,
  user: { id: string; email: string },
): Promise<Enrolment> {
  const status = await secondFactorStatus(db, user.id);
  if (status.enabled) {
    throw new HttpError(409, 'already_enabled', 'Two-step sign-in is already on.');
  }
  return beginEnrolment(db, sessionSecret, user);
}

export async function confirmOwnEnrolment(
  db: Db,
  sessionSecret: string,
  userId: string,
  code: string,
): Promise<string[]> {
  const status = await secondFactorStatus(db, userId);
  if (status.enabled) {
    throw new HttpError(409, 'already_enabled', 'Two-step sign-in is already on.');
  }
  if (!(await checkSecondFactor(db, sessionSecret, userId, code)).ok) throw wrongCode();
  return completeEnrolment(db, userId);
}

export async function replaceOwnRecoveryCodes(
  db: Db,
  sessionSecret: string,
  userId: string,
  code: string,
): Promise<string[]> {
  if (!(await secondFactorStatus(db, userId)).enabled) {
    throw new HttpError(409, 'not_enabled', 'Two-step sign-in is off.');
  }
  if (!(await checkSecondFactor(db, sessionSecret, userId, code)).ok) throw wrongCode();
  return newRecoveryCodes(db, userId);
}

export async function turnOffOwnSecondFactor(
  db: Db,
  sessionSecret: string,
  userId: string,
  code: string,
): Promise<void> {
  const status = await secondFactorStatus(db, userId);
  if (!status.enabled) throw new HttpError(409, 'not_enabled', 'Two-step sign-in is off.');
  if (status.required) {
    throw new HttpError(
      409,
      'required_by_group',
      'One of your groups requires two-step sign-in, so it cannot be turned off.',
    );
  }
  if (!(await checkSecondFactor(db, sessionSecret, userId, code)).ok) throw wrongCode();
  await removeSecondFactor(db, userId);
}
