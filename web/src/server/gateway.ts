// The gateway's internal API (bearer GATEWAY_SECRET): live sessions, disconnect, thumbnails.
import type { SessionInfo, SessionListResponse } from '@raydesk/gateway/internal';
import { config } from './config.ts';
import { HttpError } from './http.ts';

export type { SessionInfo };

async function call(path: string, init: RequestInit = {}, timeoutMs = 3_000): Promise<Response> {
  const c = config();
  const url = new URL(path, c.GATEWAY_URL.endsWith('/') ? c.GATEWAY_URL : `${c.GATEWAY_URL}/`);
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

/** What browsers connect to: GATEWAY_PUBLIC_URL, or this portal's host name on GATEWAY_PORT. */
export function gatewayPublicUrl(host: string, https: boolean): string {
  const c = config();
  if (c.GATEWAY_PUBLIC_URL) return c.GATEWAY_PUBLIC_URL;
  const hostname = host.replace(/:\d+$/, '');
  return `${https ? 'https' : 'http'}://${hostname}:${c.GATEWAY_PORT}`;
}
