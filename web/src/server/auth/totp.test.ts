import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generate } from 'otplib';
import type { Db } from '@raydesk/db';
import { freshSqlite, testSettings } from '../test-db.ts';
import { hashPassword } from './password.ts';
import { completeSignIn, enrolAtSignIn, signIn, type SecondFactorNeeded } from './login.ts';
import {
  beginEnrolment,
  checkSecondFactor,
  completeEnrolment,
  openSecret,
  removeSecondFactor,
  sealSecret,
} from './totp.ts';

let t: Awaited<ReturnType<typeof freshSqlite>>;
let db: Db;
const s = testSettings();
const secret = s.session.sessionSecret;
const meta = { userAgent: 'test', address: '10.0.0.9' };
const T0 = new Date('2026-11-27T12:00:00Z');
const codeAt = (key: string, at: Date) =>
  generate({ secret: key, epoch: Math.floor(at.getTime() / 1000) });
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

async function user(email: string) {
  return db.user.create({
    data: { email, name: email, passwordHash: await hashPassword('the-password-1') },
  });
}

before(async () => {
  t = await freshSqlite();
  db = t.db;
});
after(async () => t.cleanup());

test('a sealed secret opens only with the same SESSION_SECRET, and tampering is caught', () => {
  const sealed = sealSecret(secret, 'JBSWY3DPEHPK3PXP');
  assert.equal(openSecret(secret, sealed), 'JBSWY3DPEHPK3PXP');
  assert.equal(openSecret('another-session-secret-0123456789', sealed), null);
  const [v, iv, tag, body] = sealed.split('.');
  const flipped = body!.slice(0, -2) + (body!.endsWith('AA') ? 'BB' : 'AA');
  assert.equal(openSecret(secret, [v, iv, tag, flipped].join('.')), null);
  assert.doesNotMatch(sealed, /JBSWY3DPEHPK3PXP/);
});

test('a TOTP code is accepted once, a neighbouring step is accepted, a far one is not', async () => {
  const u = await user('once@example.com');
  const e = await beginEnrolment(db, secret, u);
  assert.match(e.otpauthUri, /^otpauth:\/\/totp\/Raydesk:once%40example\.com\?/);
  assert.match(e.qrSvg, /^<svg/);
  await completeEnrolment(db, u.id, T0);
  const code = await codeAt(e.secret, T0);
  assert.deepEqual(await checkSecondFactor(db, secret, u.id, code, T0), { ok: true, via: 'totp' });
  assert.deepEqual(await checkSecondFactor(db, secret, u.id, code, T0), { ok: false }, 'replay');
  // The next step's code, 30 s late (clock drift), still works.
  const next = await codeAt(e.secret, later(30));
  assert.equal((await checkSecondFactor(db, secret, u.id, next, later(45))).ok, true);
  const old = await codeAt(e.secret, later(-300));
  assert.equal((await checkSecondFactor(db, secret, u.id, old, later(60))).ok, false);
});

test('recovery codes work once each, with or without the dash and in any case', async () => {
  const u = await user('recover@example.com');
  await beginEnrolment(db, secret, u);
  const codes = await completeEnrolment(db, u.id, T0);
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  const stored = await db.recoveryCode.findMany({ where: { userId: u.id } });
  assert.ok(
    stored.every((r) => !codes.includes(r.codeHash)),
    'only hashes are stored',
  );
  const first = codes[0]!;
  assert.deepEqual(await checkSecondFactor(db, secret, u.id, first.toUpperCase(), T0), {
    ok: true,
    via: 'recovery',
  });
  assert.equal((await checkSecondFactor(db, secret, u.id, first, T0)).ok, false, 'used up');
  assert.equal(
    (await checkSecondFactor(db, secret, u.id, codes[1]!.replace('-', ''), T0)).ok,
    true,
  );
  await removeSecondFactor(db, u.id);
  assert.equal((await checkSecondFactor(db, secret, u.id, codes[2]!, T0)).ok, false, 'removed');
});

test('sign-in with a second factor: password, then code; a wrong code counts toward lockout', async () => {
  const u = await user('two@example.com');
  const e = await beginEnrolment(db, secret, u);
  await completeEnrolment(db, u.id, T0);
  const first = await signIn(db, s, { email: u.email, password: 'the-password-1' }, meta, T0);
  assert.equal(first.ok, 'second-factor');
  const { challenge, step } = first as SecondFactorNeeded;
  assert.equal(step, 'totp');
  assert.equal(await db.loginSession.count({ where: { userId: u.id } }), 0, 'no session yet');

  const wrong = await completeSignIn(db, s, { challenge, code: '000000' }, meta, later(1));
  assert.equal(wrong.ok, false);
  assert.equal(!wrong.ok && wrong.code, 'invalid_code');
  const right = await completeSignIn(
    db,
    s,
    { challenge, code: await codeAt(e.secret, later(2)) },
    meta,
    later(2),
  );
  assert.equal(right.ok, true);
  assert.equal(await db.loginSession.count({ where: { userId: u.id } }), 1);
  const audit = await db.auditEvent.findFirst({
    where: { actorId: u.id, action: 'login.success' },
  });
  assert.match(audit?.details ?? '', /"secondFactor":"totp"/);

  // Five wrong codes lock the account at that address, whatever the challenge.
  const again = (await signIn(
    db,
    s,
    { email: u.email, password: 'the-password-1' },
    meta,
    later(40),
  )) as SecondFactorNeeded;
  let last;
  for (let i = 0; i < 6; i++) {
    last = await completeSignIn(
      db,
      s,
      { challenge: again.challenge, code: '123456' },
      meta,
      later(41 + i),
    );
  }
  assert.equal(last && !last.ok && last.code, 'locked');
});

test('a group that requires TOTP makes its members enrol at sign-in; an expired challenge is refused', async () => {
  const u = await user('group@example.com');
  const g = await db.group.create({ data: { name: 'finance', requireTotp: true } });
  await db.groupMember.create({ data: { groupId: g.id, userId: u.id } });
  const first = (await signIn(
    db,
    s,
    { email: u.email, password: 'the-password-1' },
    meta,
    T0,
  )) as SecondFactorNeeded;
  assert.equal(first.step, 'enroll');
  const e = await enrolAtSignIn(db, s, first.challenge, T0);
  assert.ok(e);
  const done = await completeSignIn(
    db,
    s,
    { challenge: first.challenge, code: await codeAt(e.secret, T0) },
    meta,
    T0,
  );
  assert.equal(done.ok, true);
  assert.equal(done.ok && done.recoveryCodes?.length, 10);
  const row = await db.user.findUniqueOrThrow({ where: { id: u.id } });
  assert.ok(row.totpEnabledAt, 'enrolled');
  // An enrol challenge cannot restart an enrolment that is finished.
  assert.equal(await enrolAtSignIn(db, s, first.challenge, T0), null);
  const expired = await completeSignIn(
    db,
    s,
    { challenge: first.challenge, code: '123456' },
    meta,
    later(301),
  );
  assert.equal(!expired.ok && expired.code, 'challenge_expired');
});
