// CSRF defence for state-changing requests: the Origin (or, failing that, Sec-Fetch-Site) must say
// the request comes from the portal's own pages. Cookies are SameSite=Lax as a second layer.

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface OriginInput {
  method: string;
  origin: string | null;
  secFetchSite: string | null;
  host: string | null;
  forwardedHost: string | null;
  forwardedProto: string | null;
  /** PORTAL_PUBLIC_URL, if set. */
  publicUrl?: string;
}

/** Origins this portal answers as. */
export function allowedOrigins(input: OriginInput): Set<string> {
  const origins = new Set<string>();
  if (input.publicUrl) {
    try {
      origins.add(new URL(input.publicUrl).origin);
    } catch {
      /* ignored: config validation reports it */
    }
  }
  const host = (input.forwardedHost ?? input.host ?? '').split(',')[0]?.trim();
  if (host) {
    const protos = input.forwardedProto
      ? [input.forwardedProto.split(',')[0]!.trim()]
      : ['http', 'https'];
    for (const proto of protos) origins.add(`${proto}://${host}`.toLowerCase());
  }
  return origins;
}

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

export function checkOrigin(input: OriginInput): OriginVerdict {
  if (SAFE_METHODS.has(input.method.toUpperCase())) return { ok: true };
  if (input.origin && input.origin !== 'null') {
    return allowedOrigins(input).has(input.origin.toLowerCase())
      ? { ok: true }
      : { ok: false, reason: `cross-origin request from ${input.origin} refused` };
  }
  if (input.secFetchSite === 'same-origin') return { ok: true };
  return { ok: false, reason: 'state-changing request without an Origin header refused' };
}
