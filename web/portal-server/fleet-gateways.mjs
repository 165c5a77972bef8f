/* global fetch, AbortSignal */
// In a fleet (FLEET=on) the portal's proxy forwards /gateway/<id>/socket.io to that gateway. The
// ids and internal URLs of live gateways come from the registry in PostgreSQL, read by the
// portal's own API (/api/internal/gateways, bearer GATEWAY_SECRET: the Next app owns the
// database client), and are kept for a moment so a burst of viewers costs one lookup.
import { URL } from 'node:url';

const CACHE_MS = 2_000;
const LOOKUP_TIMEOUT_MS = 3_000;

/**
 * @param {{ portalUrl: string, secret: string, fetchImpl?: typeof fetch }} options
 *   portalUrl: where this process reaches its own portal API (plain HTTP on loopback).
 * @returns {(gatewayId: string) => Promise<string | null>}
 */
export function createGatewayResolver({ portalUrl, secret, fetchImpl = fetch }) {
  /** @type {{ at: number, gateways: Map<string, string> } | null} */
  let cached = null;
  /** @type {Promise<Map<string, string>> | null} */
  let loading = null;

  async function load() {
    const res = await fetchImpl(new URL('/api/internal/gateways', portalUrl), {
      headers: { authorization: `Bearer ${secret}` },
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`the portal's gateway list answered ${res.status}`);
    const body = await res.json();
    const gateways = new Map();
    for (const g of Array.isArray(body?.gateways) ? body.gateways : []) {
      if (typeof g?.id === 'string' && typeof g?.url === 'string' && /^https?:\/\//.test(g.url))
        gateways.set(g.id, g.url);
    }
    cached = { at: Date.now(), gateways };
    return gateways;
  }

  return async (gatewayId) => {
    let gateways = cached && Date.now() - cached.at < CACHE_MS ? cached.gateways : null;
    // An id not seen yet may be a gateway that just registered: look again before saying no.
    if (!gateways || !gateways.has(gatewayId)) {
      loading ??= load().finally(() => (loading = null));
      gateways = await loading;
    }
    return gateways.get(gatewayId) ?? null;
  };
}
