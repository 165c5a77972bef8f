// The second factor: TOTP (RFC 6238, what authenticator apps speak) plus single-use recovery
// codes. Secrets are sealed in the database with a key derived from SESSION_SECRET, so a copy
// of the database alone does not yield them; rotating SESSION_SECRET therefore resets every
// enrolment (users enrol again at their next sign-in).
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { Db } from '@raydesk/db';

const ISSUER = 'Raydesk';
/** Codes from one step before or after now are accepted too: phone clocks drift. */
const EPOCH_TOLERANCE_SECONDS = 30;
export const RECOVERY_CODE_COUNT = 10;

function sealingKey(sessionSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'raydesk', 'totp-secret', 32));
}

export function sealSecret(sessionSecret: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(sessionSecret), iv);
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** The secret, or null when it was sealed under another SESSION_SECRET (or tampered with). */
export function openSecret(sessionSecret: string, sealed: string): string | null {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || !body) return null;
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      sealingKey(sessionSecret),
      Buffer.from(iv, 'base64url'),
    );
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(body, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return null;
  }
}

export interface Enrolment {
  /** Base32, for typing into an app by hand. */
  secret: string;
  otpauthUri: string;
  /** The URI as a QR code, an SVG document. */
  qrSvg: string;
}

/** Starts (or restarts) enrolment: a new secret, not yet required at sign-in. */
export async function beginEnrolment(
  db: Db,
  sessionSecret: string,
  user: { id: string; email: string },
): Promise<Enrolment> {
  const secret = generateSecret();
  await db.user.update({
    where: { id: user.id },
    data: {
      totpSecret: sealSecret(sessionSecret, secret),
      totpEnabledAt: null,
      totpLastStep: null,
    },
  });
  const otpauthUri = generateURI({ issuer: ISSUER, label: user.email, secret });
  const qrSvg = await QRCode.toString(otpauthUri, {
    type: 'svg',
    margin: 1,
    errorCorrectionLevel: 'M',
  });
  return { secret, otpauthUri, qrSvg };
}

export type CodeCheck = { ok: true; via: 'totp' | 'recovery' } | { ok: false };

const TOTP_CODE = /^\d{6}$/;
const RECOVERY_CODE = /^[a-z2-7]{5}-?[a-z2-7]{5}$/;

export function normaliseCode(raw: string): string {
  return raw.replace(/\s+/g, '').toLowerCase();
}

/**
 * Checks a code against the user's secret (enrolled or being enrolled) or, once enrolled, their
 * unused recovery codes. An accepted TOTP step or recovery code cannot be used again.
 */
export async function checkSecondFactor(
  db: Db,
  sessionSecret: string,
  userId: string,
  rawCode: string,
  now = new Date(),
): Promise<CodeCheck> {
  const code = normaliseCode(rawCode);
  const user = await db.user.findUnique({
    where: { id: userId },
    select: { totpSecret: true, totpEnabledAt: true, totpLastStep: true },
  });
  if (!user?.totpSecret) return { ok: false };
  if (TOTP_CODE.test(code)) {
    const secret = openSecret(sessionSecret, user.totpSecret);
    if (!secret) return { ok: false };
    const result = await verify({
      secret,
      token: code,
      epoch: Math.floor(now.getTime() / 1000),
      epochTolerance: EPOCH_TOLERANCE_SECONDS,
      ...(user.totpLastStep !== null ? { afterTimeStep: user.totpLastStep } : {}),
    });
    // The result type also covers HOTP, which has no time step.
    if (!result.valid || !('timeStep' in result)) return { ok: false };
    // Conditional on the step we read, so two requests racing with one code cannot both win.
    const claimed = await db.user.updateMany({
      where: { id: userId, totpLastStep: user.totpLastStep },
      data: { totpLastStep: result.timeStep },
    });
    return claimed.count === 1 ? { ok: true, via: 'totp' } : { ok: false };
  }
  if (user.totpEnabledAt && RECOVERY_CODE.test(code)) {
    const used = await db.recoveryCode.updateMany({
      where: { userId, codeHash: hashRecoveryCode(code), usedAt: null },
      data: { usedAt: now },
    });
    return used.count === 1 ? { ok: true, via: 'recovery' } : { ok: false };
  }
  return { ok: false };
}

function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.replace('-', '')).digest('hex');
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function newRecoveryCode(): string {
  // 50 random bits, shown as xxxxx-xxxxx; high enough entropy that a plain SHA-256 is enough.
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => BASE32[b & 31]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** Replaces the user's recovery codes with new ones, returned once and kept only as hashes. */
export async function newRecoveryCodes(db: Db, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await db.$transaction([
    db.recoveryCode.deleteMany({ where: { userId } }),
    db.recoveryCode.createMany({
      data: codes.map((c) => ({ userId, codeHash: hashRecoveryCode(c) })),
    }),
  ]);
  return codes;
}

/** Turns the second factor on after a first good code, with fresh recovery codes. */
export async function completeEnrolment(
  db: Db,
  userId: string,
  now = new Date(),
): Promise<string[]> {
  await db.user.update({ where: { id: userId }, data: { totpEnabledAt: now } });
  return newRecoveryCodes(db, userId);
}

/** Removes the second factor and its recovery codes (the user's own choice, or an admin reset). */
export async function removeSecondFactor(db: Db, userId: string): Promise<void> {
  await db.$transaction([
    db.user.update({
      where: { id: userId },
      data: { totpSecret: null, totpEnabledAt: null, totpLastStep: null },
    }),
    db.recoveryCode.deleteMany({ where: { userId } }),
  ]);
}

/** Whether any of the user's groups requires a second factor. */
export async function totpRequired(db: Db, userId: string): Promise<boolean> {
  const n = await db.groupMember.count({ where: { userId, group: { requireTotp: true } } });
  return n > 0;
}

export async function remainingRecoveryCodes(db: Db, userId: string): Promise<number> {
  return db.recoveryCode.count({ where: { userId, usedAt: null } });
}
