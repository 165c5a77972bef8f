// Where the sign-in flow may send someone next: a page of this portal, never another site.
// Shared by the sign-in page, its form (in the browser) and /api/auth/refresh.
//
// Browsers read `/\evil.example` as `//evil.example` (another site), drop tabs and newlines
// inside URLs, and resolve dot segments, so a prefix check is not enough: the value is parsed as
// a browser would parse it and must stay on the portal's own origin.

/** Where people go when `next` is missing or refused. */
export const DEFAULT_NEXT = '/';

const PLACEHOLDER_ORIGIN = 'http://portal.invalid';
const MAX_LENGTH = 2048;
// C0 controls, DEL and the backslash (which special URLs treat as a slash).
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f\\]/;

function decodedOrNull(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

function isApiPath(pathname: string): boolean {
  return /^\/api(\/|$)/i.test(pathname);
}

/**
 * The path (with query and fragment) to go to after signing in, normalised, or DEFAULT_NEXT when
 * `value` is not a plain path on this portal (another origin, a scheme, `//`, `/\`, encoded
 * slashes or backslashes at the start, control characters) or points into `/api/`.
 */
export function safeNextPath(value: string | null | undefined): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH)
    return DEFAULT_NEXT;
  if (!value.startsWith('/') || value.startsWith('//')) return DEFAULT_NEXT;
  if (FORBIDDEN_CHARACTERS.test(value)) return DEFAULT_NEXT;

  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return DEFAULT_NEXT;

  // A server or proxy further on may decode the path once more: judge that form too.
  const decodedPath = decodedOrNull(url.pathname);
  if (
    decodedPath === null ||
    FORBIDDEN_CHARACTERS.test(decodedPath) ||
    decodedPath.startsWith('//') ||
    isApiPath(url.pathname) ||
    isApiPath(decodedPath)
  )
    return DEFAULT_NEXT;

  return url.pathname + url.search + url.hash;
}
