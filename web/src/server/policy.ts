// Group policies: each group's row holds a session policy and the appliances its members may
// start; a user gets the most restrictive combination of their groups (no group: the default).
// The session policy goes into every attach token (the gateway enforces it); the appliance
// list is enforced here, wherever the portal starts a VM for a user.
import {
  DEFAULT_SESSION_POLICY,
  mostRestrictivePolicy,
  type SessionPolicy,
} from '@raydesk/gateway/protocol';
import type { Db } from './db.ts';
import { HttpError } from './http.ts';
import type { GroupPolicyInput } from '../lib/validation.ts';

type GroupPolicyRow = SessionPolicy & { allowedAppliances: string };

export interface EffectivePolicy {
  session: SessionPolicy;
  /** Appliance names the user may start; null: any. */
  appliances: string[] | null;
}

/** The stored column: comma-separated names, empty for any. */
export function parseAppliances(column: string): string[] | null {
  const names = column
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return names.length > 0 ? names : null;
}

function sessionPolicyOf(row: GroupPolicyRow): SessionPolicy {
  return {
    clipboardToVm: row.clipboardToVm,
    clipboardFromVm: row.clipboardFromVm,
    clipboardMaxBytes: row.clipboardMaxBytes,
    uploadEnabled: row.uploadEnabled,
    uploadMaxBytes: row.uploadMaxBytes,
    downloadEnabled: row.downloadEnabled,
    downloadMaxBytes: row.downloadMaxBytes,
    recording: row.recording,
    watermark: row.watermark,
    idleTimeoutMinutes: row.idleTimeoutMinutes,
    maxSessionMinutes: row.maxSessionMinutes,
  };
}

export function policyOfGroup(row: GroupPolicyRow): GroupPolicyInput {
  return { ...sessionPolicyOf(row), appliances: parseAppliances(row.allowedAppliances) };
}

/** The columns to write for a policy the admin console sent. */
export function groupPolicyColumns(policy: GroupPolicyInput): GroupPolicyRow {
  const { appliances, ...session } = policy;
  return { ...session, allowedAppliances: appliances ? [...new Set(appliances)].join(',') : '' };
}

/** Intersection of allow-lists, where null allows any. */
function intersectAppliances(lists: (string[] | null)[]): string[] | null {
  return lists.reduce<string[] | null>((acc, list) => {
    if (list === null) return acc;
    if (acc === null) return list;
    return acc.filter((name) => list.includes(name));
  }, null);
}

/** The most restrictive policy of the user's groups; no group: the default. */
export async function effectivePolicy(db: Db, userId: string): Promise<EffectivePolicy> {
  const memberships = await db.groupMember.findMany({
    where: { userId },
    include: { group: true },
  });
  const groups = memberships.map((m) => m.group);
  if (groups.length === 0) return { session: { ...DEFAULT_SESSION_POLICY }, appliances: null };
  return {
    session: mostRestrictivePolicy(groups.map(sessionPolicyOf)),
    appliances: intersectAppliances(groups.map((g) => parseAppliances(g.allowedAppliances))),
  };
}

/** The appliances a user may start (null: any); administrators are not restricted. */
export async function startableAppliances(
  db: Db,
  user: { id: string; role: string },
): Promise<string[] | null> {
  if (user.role === 'admin') return null;
  return (await effectivePolicy(db, user.id)).appliances;
}

/** Refuses an appliance outside `allowed` (startableAppliances: every group must allow it). */
export function assertAllowedAppliance(
  allowed: string[] | null,
  appliance: { name: string; title: string },
): void {
  if (allowed === null || allowed.includes(appliance.name)) return;
  throw new HttpError(
    403,
    'appliance_not_allowed',
    `Your group policy does not allow starting ${appliance.title}. Ask an administrator if you need it.`,
    { appliance: appliance.name },
  );
}

/**
 * Refuses to start an appliance none of the user's groups allows (with the most restrictive
 * combination: every group must allow it). Administrators are not restricted.
 */
export async function assertMayStart(
  db: Db,
  user: { id: string; role: string },
  appliance: { name: string; title: string },
): Promise<void> {
  assertAllowedAppliance(await startableAppliances(db, user), appliance);
}
