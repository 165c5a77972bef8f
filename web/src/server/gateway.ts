// The gateway's internal API (bearer GATEWAY_SECRET): live sessions, disconnect, thumbnails.
import type {
  FeedPrepareRequest,
  SessionInfo,
  SessionListResponse,
} from '@raydesk/gateway/internal';
import { fleetGatewaySocketPath, GATEWAY_SOCKET_PATH } from '../../portal-server/gateway-path.mjs';
import { config } from './config.ts';
import { db } from './db.ts';
import { chooseGateway, connectedHost, fleetMode } from './fleet.ts';
import { HttpError } from './http.ts';
import { log } from './log.ts';

export type { SessionInfo };

/**
 * A call to the gateway's internal API. In a fleet any live gateway answers for all of them (they
 * ask each other through Redis: gateway/src/fleet/peers.ts).
 */
async function call(path: string, init: RequestInit = {}, timeoutMs = 3_000): Promise<Response> {
  const c = config();
  const base = fleetMode() ? (await chooseGateway(db())).url : c.GATEWAY_URL;
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  try {
    return await fetch(url, {
      ...init,
      headers: { ...(init.headers ?? {}), authorization: `Bearer ${c.GATEWAY_SECRET}` },
      signal: AbortSignal.timeout(timeoutMs),
      cache: 'no-store',
    });
  } catch {
    throw new HttpError(
      503,
      'gateway_unavailable',
      'The display gateway is not reachable right now.',
    );
  }
}

export async function gatewaySessions(): Promise<SessionInfo[]> {
  const res = await call('internal/sessions');
  if (!res.ok)
    throw new HttpError(502, 'gateway_error', `The display gateway answered ${res.status}.`);
  const body = (await res.json()) as SessionListResponse | SessionInfo[];
  return Array.isArray(body) ? body : body.sessions;
}

export async function gatewayDisconnect(sessionId: string, reason: string): Promise<boolean> {
  const res = await call(`internal/sessions/${encodeURIComponent(sessionId)}/disconnect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  if (res.status === 404) return false;
  if (!res.ok)
    throw new HttpError(502, 'gateway_error', `The display gateway answered ${res.status}.`);
  return true;
}

/**
 * Tells the gateway that a viewer of this VM is on its way (the VM was just claimed or resumed),
 * so it watches the VM now and has its picture when the viewer attaches. Best effort: a gateway
 * that does not answer only means the viewer waits for the picture as before.
 */
export async function gatewayPrepareFeed(domainId: string, host?: FeedPrepareRequest['host']) {
  const body: FeedPrepareRequest = host ? { host } : {};
  const res = await call(`internal/vms/${encodeURIComponent(domainId)}/feed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok)
    throw new HttpError(502, 'gateway_error', `The display gateway answered ${res.status}.`);
}

/**
 * The VM was just claimed or resumed and a viewer is on its way: the gateway starts its feed now,
 * while the browser loads the viewer page. Not awaited, so the caller's answer does not wait.
 */
export function prepareFeed(vm: { domainId: string | null; hostId: string | null }): void {
  const domainId = vm.domainId;
  if (!domainId) return;
  void (async () => {
    const host =
      fleetMode() && vm.hostId ? (await connectedHost(db(), vm.hostId, 1_000)).host : null;
    await gatewayPrepareFeed(domainId, host ? { id: host.id, url: host.url } : undefined);
  })().catch((error: unknown) =>
    log.warn({ vm: domainId, err: String(error) }, 'gateway feed not prepared'),
  );
}

export async function gatewayThumbnail(domainId: string): Promise<Uint8Array | null> {
  const res = await call(`internal/vms/${encodeURIComponent(domainId)}/thumbnail`, {}, 5_000);
  if (!res.ok) return null;
  return new Uint8Array(await res.arrayBuffer());
}

export async function gatewayHealth(): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await call('internal/sessions', {}, 1_500);
    if (res.ok) {
      const body = (await res.json()) as SessionListResponse | SessionInfo[];
      const n = Array.isArray(body) ? body.length : body.sessions.length;
      return { ok: true, detail: `${n} live session${n === 1 ? '' : 's'}` };
    }
    return { ok: false, detail: `answered ${res.status}` };
  } catch {
    return { ok: false, detail: 'not reachable' };
  }
}

/** Where a browser opens the gateway's socket.io: `io(url, { path })`. */
export interface GatewayEndpoint {
  /** `/` is the page's own origin; otherwise an absolute http(s) or ws(s) URL. */
  url: string;
  path: string;
}

/** In a fleet: one gateway, through the portal's own origin (/gateway/<id>/socket.io). */
export function fleetGatewayEndpoint(gatewayId: string): GatewayEndpoint {
  return { url: '/', path: fleetGatewaySocketPath(gatewayId) };
}

/**
 * By default the portal's own origin, on the path the portal server proxies to the gateway, so
 * browsers need no other port. GATEWAY_PUBLIC_URL (e.g. `https://gw.example.org` or
 * `https://desk.example.org/gw`) sends them to a gateway directly; a path in it is a prefix in
 * front of `/socket.io` (socket.io would read it as a namespace).
 */
export function gatewayEndpoint(
  publicUrl: string | undefined = config().GATEWAY_PUBLIC_URL,
): GatewayEndpoint {
  if (!publicUrl) return { url: '/', path: GATEWAY_SOCKET_PATH };
  const url = new URL(publicUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  return { url: url.origin, path: `${prefix}/socket.io` };
}
