// What a viewer needs to attach to a VM: an attach token and the gateway to present it to. The
// attach-token route hands one out for every (re)connect; the viewer pages render one into the
// page, so a viewer's first attach does not wait for a request of its own.
import type { SessionPolicy } from '@raydesk/gateway/protocol';
import { headers } from 'next/headers';
import { clientAddress, type Viewer } from './auth/request.ts';
import { issueAttachToken } from './attach.ts';
import { db } from './db.ts';
import { chooseGateway, connectedHost, fleetMode } from './fleet.ts';
import { fleetGatewayEndpoint, gatewayEndpoint } from './gateway.ts';
import { log } from './log.ts';
import { effectivePolicy } from './policy.ts';

export interface AttachTicket {
  token: string;
  jti: string;
  expiresIn: number;
  gatewayUrl: string;
  gatewayPath: string;
}

/** What a viewer page carries: the viewer's AttachTicket (@raydesk/viewer). */
export interface PageTicket {
  token: string;
  gatewayUrl: string;
  path: string;
}

export async function attachTicket(
  vm: { domainId: string; hostId: string | null },
  viewer: Viewer,
  mode: 'control' | 'view',
  meta: { userAgent: string; address: string },
  /** The viewer's session policy when the caller started its lookup already (pagePolicy). */
  knownPolicy?: Promise<SessionPolicy>,
): Promise<AttachTicket> {
  // In a fleet the token names the VM's host; an offline host answers 503 in plain words.
  const host = fleetMode() && vm.hostId ? (await connectedHost(db(), vm.hostId, 1_000)).host : null;
  const issued = await issueAttachToken(
    {
      userId: viewer.id,
      domainId: vm.domainId,
      mode,
      name: viewer.name || viewer.email,
      role: viewer.role,
      // The viewer's own groups decide what this session may do (a shadowing admin's too).
      policy: await (knownPolicy ?? sessionPolicyOf(viewer)),
      email: viewer.email,
      ...(host ? { host: { id: host.id, url: host.url } } : {}),
    },
    meta,
  );
  // In a fleet every (re)attach gets the least loaded live gateway, through the portal's origin.
  const gateway = fleetMode()
    ? fleetGatewayEndpoint((await chooseGateway(db())).id)
    : gatewayEndpoint();
  return {
    token: issued.token,
    jti: issued.jti,
    expiresIn: issued.expiresIn,
    gatewayUrl: gateway.url,
    gatewayPath: gateway.path,
  };
}

function sessionPolicyOf(viewer: Viewer): Promise<SessionPolicy> {
  return effectivePolicy(db(), viewer.id).then((policy) => policy.session);
}

/**
 * The viewer's session policy for pageTicket, looked up while the page looks up its VM (one
 * database round trip less before the page is served).
 */
export function pagePolicy(viewer: Viewer): Promise<SessionPolicy> {
  const policy = sessionPolicyOf(viewer);
  // A page that ends in notFound or a redirect never awaits it; pageTicket handles a failure.
  policy.catch(() => undefined);
  return policy;
}

/**
 * A ticket rendered into a viewer page (own VM, control). Null if none can be had now (a fleet
 * host offline, no gateway): the viewer then asks the attach-token route, which says why.
 */
export async function pageTicket(
  vm: { domainId: string; hostId: string | null },
  viewer: Viewer,
  policy?: Promise<SessionPolicy>,
): Promise<PageTicket | null> {
  const h = await headers();
  try {
    const ticket = await attachTicket(
      vm,
      viewer,
      'control',
      { userAgent: h.get('user-agent') ?? '', address: clientAddress(h) },
      policy,
    );
    return { token: ticket.token, gatewayUrl: ticket.gatewayUrl, path: ticket.gatewayPath };
  } catch (error) {
    log.warn({ vm: vm.domainId, err: String(error) }, 'no attach ticket for the page');
    return null;
  }
}
