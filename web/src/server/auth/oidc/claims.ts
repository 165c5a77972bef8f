// What Raydesk takes from a provider's claims (ID token, then userinfo): who the person is,
// whether the provider verified their email, their groups, and how they authenticated. Claims
// cross a trust boundary, so each is checked with zod; a malformed one counts as absent.
import { z } from 'zod';

export interface ProviderIdentity {
  issuer: string;
  subject: string;
  /** Lower-cased; null when the provider gave none. */
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  /** Group names from the groups claim; null when the claim is absent (memberships are kept). */
  groups: string[] | null;
  /** Authentication methods (RFC 8176), e.g. ["pwd", "otp"]. */
  amr: string[];
}

export type Claims = Record<string, unknown>;

const email = z.string().trim().toLowerCase().max(254).pipe(z.email());
// Some providers send booleans as strings.
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const name = z.string().trim().min(1).max(200);
const groupName = z.string().trim().min(1).max(200);
const groupList = z.union([
  z
    .array(z.unknown())
    .transform((items) => items.flatMap((i) => groupName.safeParse(i).data ?? [])),
  groupName.transform((g) => [g]),
]);
const amrList = z.array(z.string().max(40)).max(20);

/**
 * The identity in an ID token's claims, completed from userinfo for what the ID token lacks.
 * The subject always comes from the ID token (openid-client checked userinfo's `sub` matches).
 */
export function identityFromClaims(
  idToken: Claims & { iss: string; sub: string },
  userinfo: Claims,
  groupsClaim: string,
): ProviderIdentity {
  const pick = <T>(key: string, schema: z.ZodType<T>): T | undefined =>
    schema.safeParse(idToken[key]).data ?? schema.safeParse(userinfo[key]).data;
  const fromIdToken = email.safeParse(idToken.email).data;
  const emailAddress = fromIdToken ?? email.safeParse(userinfo.email).data ?? null;
  // The verification flag must come from the same source as the address it vouches for.
  const verified = flag.safeParse((fromIdToken ? idToken : userinfo).email_verified).data;
  return {
    issuer: idToken.iss,
    subject: idToken.sub,
    email: emailAddress,
    emailVerified: Boolean(emailAddress && verified),
    name: pick('name', name) ?? pick('preferred_username', name) ?? null,
    groups: pick(groupsClaim, groupList) ?? null,
    amr: amrList.safeParse(idToken.amr).data ?? [],
  };
}

/** Whether the provider says it checked a second factor, by the `amr` values that count. */
export function secondFactorAtProvider(amr: string[], countingAmr: string[]): boolean {
  return amr.some((method) => countingAmr.includes(method));
}

/**
 * Group names compare case-insensitively, and a leading "/" is ignored (Keycloak's full group
 * paths: "/Finance" names the group Finance).
 */
export function groupKey(name: string): string {
  return name.trim().replace(/^\/+/, '').toLowerCase();
}

export interface MembershipPlan {
  /** Groups to join (source "oidc"). */
  add: string[];
  /** Groups to leave: only memberships the claim once gave (source "oidc"). */
  remove: string[];
  /** Names in the claim that match no Raydesk group (ignored; no group is created). */
  unknown: string[];
}

/**
 * Brings a user's memberships in line with the groups claim: every existing Raydesk group the
 * claim names is joined; memberships that came from the claim and that it no longer names are
 * left. Memberships an admin added by hand stay whatever the claim says.
 */
export function planMemberships(
  claimed: string[],
  groups: { id: string; name: string }[],
  current: { groupId: string; source: string }[],
): MembershipPlan {
  const byKey = new Map(groups.map((g) => [groupKey(g.name), g.id]));
  const wanted = new Set<string>();
  const unknown: string[] = [];
  for (const name of claimed) {
    const id = byKey.get(groupKey(name));
    if (id) wanted.add(id);
    else if (!unknown.includes(name)) unknown.push(name);
  }
  const have = new Set(current.map((m) => m.groupId));
  return {
    add: [...wanted].filter((id) => !have.has(id)),
    remove: current
      .filter((m) => m.source === 'oidc' && !wanted.has(m.groupId))
      .map((m) => m.groupId),
    unknown,
  };
}

/** A display name for a new account: the provider's name, else the email's local part. */
export function accountName(identity: Pick<ProviderIdentity, 'name' | 'email'>): string {
  return identity.name ?? identity.email?.split('@')[0] ?? 'New user';
}
