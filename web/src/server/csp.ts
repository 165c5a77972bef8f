// The Content-Security-Policy of every page (set per request in web/src/proxy.ts).
//
// Scripts run only with this request's nonce: Next reads it from the request's CSP header and
// puts it on its own <script> tags, and 'strict-dynamic' extends that trust to the chunks those
// scripts load. Styles: the portal's stylesheets come from 'self', the viewer adopts its
// stylesheet through the CSSOM (no <style> element), and React renders `style={...}` props as
// style attributes, which style-src-attr allows (an attribute cannot run script).
// Connections: the gateway's socket.io is proxied on this origin; GATEWAY_PUBLIC_URL adds a
// gateway that browsers reach directly. The viewer decodes PNG/JPEG rects with
// createImageBitmap from Blobs; img-src keeps data: and blob: for images drawn from memory.

export interface CspOptions {
  /** Base64 nonce, fresh for every request. */
  nonce: string;
  /** GATEWAY_PUBLIC_URL, when browsers reach the gateway directly. */
  gatewayPublicUrl?: string;
}

const NONCE = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;

/** `https://gw.example.org:7421 wss://gw.example.org:7421` for a gateway URL, or [] if unusable. */
export function gatewaySources(gatewayPublicUrl: string | undefined): string[] {
  if (!gatewayPublicUrl) return [];
  let url: URL;
  try {
    url = new URL(gatewayPublicUrl);
  } catch {
    return [];
  }
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  if (!secure && url.protocol !== 'http:' && url.protocol !== 'ws:') return [];
  const host = url.host;
  return secure ? [`https://${host}`, `wss://${host}`] : [`http://${host}`, `ws://${host}`];
}

export function contentSecurityPolicy(options: CspOptions): string {
  if (!NONCE.test(options.nonce)) throw new Error('a CSP nonce must be 16+ base64 characters');
  const nonce = `'nonce-${options.nonce}'`;
  const directives: [string, ...string[]][] = [
    ['default-src', "'self'"],
    ['script-src', "'self'", nonce, "'strict-dynamic'"],
    ['style-src', "'self'", nonce],
    ['style-src-attr', "'unsafe-inline'"],
    ['img-src', "'self'", 'data:', 'blob:'],
    ['font-src', "'self'"],
    ['connect-src', "'self'", ...gatewaySources(options.gatewayPublicUrl)],
    ['frame-ancestors', "'none'"],
    ['object-src', "'none'"],
    ['base-uri', "'self'"],
    ['form-action', "'self'"],
  ];
  return directives.map((parts) => parts.join(' ')).join('; ');
}

/** A fresh nonce: 128 random bits, base64. */
export function newNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}

/** The nonce in a Content-Security-Policy (the request's copy: server components read it). */
export function nonceOf(csp: string | null): string | undefined {
  return csp?.match(/'nonce-([A-Za-z0-9+/_=-]+)'/)?.[1];
}
