// A person the provider vouched for becomes a Raydesk sign-in: the account is found by its
// link (issuer + subject), else by the provider-verified email (and linked), else created when
// OIDC_CREATE_USERS is on. Group memberships follow the groups claim; the second factor
// follows the groups' requireTotp unless the provider says it checked one (`amr`).
import { randomBytes } from 'node:crypto';
import type { Db } from '@raydesk/db';
import { audit } from '../../audit.ts';
import {
  startSignedInSession,
  type Meta,
  type SecondFactorNeeded,
  type SessionStarted,
  type Settings,
} from '../login.ts';
import { hashPassword } from '../password.ts';
import { signChallenge } from '../tokens.ts';
import { totpRequired } from '../totp.ts';
import {
  accountName,
  planMemberships,
  secondFactorAtProvider,
  type ProviderIdentity,
} from './claims.ts';
import { SsoError, type SsoFailure } from './provider.ts';
import type { OidcSettings } from './settings.ts';

type SsoSettings = Settings & { oidc: OidcSettings };

export async function signInWithProvider(
  db: Db,
  settings: SsoSettings,
  identity: ProviderIdentity,
  meta: Meta,
  now = new Date(),
): Promise<SessionStarted | SecondFactorNeeded> {
  const user = await accountFor(db, settings.oidc, identity, meta, now);
  if (user.disabled) await refuse(db, identity, meta, 'disabled', user.id);
  if (identity.groups) await syncMemberships(db, user, identity.groups, meta);

  const viaProvider = secondFactorAtProvider(identity.amr, settings.oidc.mfaAmr);
  const step = viaProvider
    ? null
    : user.totpEnabledAt
      ? 'totp'
      : (await totpRequired(db, user.id))
        ? 'enroll'
        : null;
  const provider = { method: 'oidc', issuer: identity.issuer };
  if (step) {
    await audit(db, {
      action: 'login.sso_ok',
      actorId: user.id,
      actorEmail: user.email,
      address: meta.address,
      details: { ...provider, next: step },
    });
    const challenge = await signChallenge(
      settings.session.sessionSecret,
      { sub: user.id, step, method: 'oidc' },
      now.getTime(),
    );
    return { ok: 'second-factor', step, challenge };
  }
  return startSignedInSession(db, settings, user, meta, now, {
    ...provider,
    ...(viaProvider ? { secondFactor: 'provider' } : {}),
  });
}

type Account = NonNullable<Awaited<ReturnType<Db['user']['findUnique']>>>;

async function accountFor(
  db: Db,
  oidc: OidcSettings,
  identity: ProviderIdentity,
  meta: Meta,
  now: Date,
): Promise<Account> {
  const { issuer, subject } = identity;
  const linked = await db.oidcIdentity.findUnique({
    where: { issuer_subject: { issuer, subject } },
    include: { user: true },
  });
  if (linked) {
    await db.oidcIdentity.update({ where: { id: linked.id }, data: { lastLoginAt: now } });
    return linked.user;
  }
  // Without a link, only an address the provider verified may name an account.
  if (!identity.email || !identity.emailVerified) return refuse(db, identity, meta, 'unverified');
  const email = identity.email;
  const existing = await db.user.findUnique({
    where: { email },
    include: { oidcIdentities: { where: { issuer } } },
  });
  if (existing && existing.oidcIdentities.length > 0) {
    // Another subject of this provider already owns the account: an address that changed hands
    // at the provider must not take it over.
    return refuse(db, identity, meta, 'conflict', existing.id);
  }
  if (!existing && !oidc.createUsers) return refuse(db, identity, meta, 'no_account');
  const user =
    existing ??
    (await db.user.create({
      data: {
        email,
        name: accountName(identity),
        // A password nobody knows: the account signs in through the provider (an admin may
        // set a password later).
        passwordHash: await hashPassword(randomBytes(32).toString('base64url')),
      },
    }));
  await db.oidcIdentity.create({
    data: { issuer, subject, userId: user.id, email, lastLoginAt: now },
  });
  await audit(db, {
    action: existing ? 'user.sso_linked' : 'user.sso_created',
    actorId: user.id,
    actorEmail: email,
    targetType: 'user',
    targetId: user.id,
    address: meta.address,
    details: { issuer, subject },
  });
  return user;
}

async function syncMemberships(
  db: Db,
  user: { id: string; email: string },
  claimed: string[],
  meta: Meta,
): Promise<void> {
  const [groups, current] = await Promise.all([
    db.group.findMany({ select: { id: true, name: true } }),
    db.groupMember.findMany({
      where: { userId: user.id },
      select: { groupId: true, source: true },
    }),
  ]);
  const plan = planMemberships(claimed, groups, current);
  if (plan.add.length === 0 && plan.remove.length === 0) return;
  await db.$transaction([
    ...plan.add.map((groupId) =>
      db.groupMember.create({ data: { groupId, userId: user.id, source: 'oidc' } }),
    ),
    db.groupMember.deleteMany({
      where: { userId: user.id, source: 'oidc', groupId: { in: plan.remove } },
    }),
  ]);
  const nameOf = (id: string) => groups.find((g) => g.id === id)?.name ?? id;
  await audit(db, {
    action: 'user.sso_groups',
    actorId: user.id,
    actorEmail: user.email,
    targetType: 'user',
    targetId: user.id,
    address: meta.address,
    details: {
      added: plan.add.map(nameOf),
      removed: plan.remove.map(nameOf),
      ...(plan.unknown.length ? { unknown: plan.unknown.slice(0, 20) } : {}),
    },
  });
}

/** A provider sign-in Raydesk turns down: audited as a failed sign-in, then thrown. */
async function refuse(
  db: Db,
  identity: ProviderIdentity,
  meta: Meta,
  reason: SsoFailure,
  userId: string | null = null,
): Promise<never> {
  await auditSsoFailure(db, meta, reason, {
    userId,
    email: identity.email,
    issuer: identity.issuer,
    subject: identity.subject,
  });
  throw new SsoError(reason, `single sign-on refused: ${reason}`);
}

export async function auditSsoFailure(
  db: Db,
  meta: Meta,
  reason: SsoFailure,
  who: { userId?: string | null; email?: string | null; issuer: string; subject?: string },
  detail?: string,
): Promise<void> {
  await audit(db, {
    action: 'login.failure',
    actorId: who.userId ?? null,
    actorEmail: who.email ?? null,
    address: meta.address,
    details: {
      method: 'oidc',
      reason,
      issuer: who.issuer,
      ...(who.subject ? { subject: who.subject } : {}),
      ...(detail ? { detail: detail.slice(0, 200) } : {}),
      userAgent: meta.userAgent.slice(0, 200),
    },
  });
}
