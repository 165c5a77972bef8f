// Attach tokens for the gateway, minted with the gateway's own helper so the contract lives in
// one place (@raydesk/gateway/attach-token). The browser that asked is remembered briefly, so
// the gateway's connect event can be recorded with its user agent and address.
import { mintAttachToken } from '@raydesk/gateway/attach-token';
import { ATTACH_TOKEN_TTL_SECONDS } from '@raydesk/gateway/internal';
import type { SessionPolicy } from '@raydesk/gateway/protocol';
import { randomUUID } from 'node:crypto';
import { config } from './config.ts';

interface Pending {
  userAgent: string;
  address: string;
  at: number;
}

const holder = globalThis as unknown as { __raydeskPendingAttach?: Map<string, Pending> };
const pending = (holder.__raydeskPendingAttach ??= new Map());

const key = (userId: string, domainId: string, mode: string) => `${userId}|${domainId}|${mode}`;

export async function issueAttachToken(
  grant: {
    userId: string;
    domainId: string;
    mode: 'control' | 'view';
    name: string;
    role: 'user' | 'admin';
    /** The VM's host in a fleet, so the gateway connects to it. */
    host?: { id: string; url: string };
    /** What the viewer may do (policy.ts: the user's groups, most restrictive). */
    policy: SessionPolicy;
    /** The viewer's email, for the watermark and recordings. */
    email: string;
  },
  meta: { userAgent: string; address: string },
) {
  const jti = randomUUID();
  const token = await mintAttachToken(config().ATTACH_TOKEN_SECRET, {
    sub: grant.userId,
    vm: grant.domainId,
    mode: grant.mode,
    name: grant.name,
    role: grant.role,
    ...(grant.host ? { host: grant.host } : {}),
    policy: grant.policy,
    email: grant.email,
    jti,
  });
  const now = Date.now();
  for (const [k, v] of pending) if (now - v.at > 10 * 60_000) pending.delete(k);
  pending.set(key(grant.userId, grant.domainId, grant.mode), { ...meta, at: now });
  return { token, jti, expiresIn: ATTACH_TOKEN_TTL_SECONDS };
}

export function attachMeta(userId: string, domainId: string, mode: string): Pending | undefined {
  return pending.get(key(userId, domainId, mode));
}
