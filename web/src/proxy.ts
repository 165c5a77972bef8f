// First line of enforcement for every page and API request (Next 16 "proxy", Node runtime):
// - state-changing API requests must come from the portal's own origin (CSRF);
// - everything except the sign-in page, auth endpoints, health and the gateway's internal
//   endpoint needs a valid access token; pages without one go through the refresh endpoint;
// - /admin and /api/admin need the admin role: 403 for anyone else;
// - every response carries this request's Content-Security-Policy (server/csp.ts); Next reads
//   the nonce from the request's copy of that header and puts it on the page's scripts.
// Every route checks again against the database (revocation, disabled users, ownership).
import { NextResponse, type NextRequest } from 'next/server';
import { checkOrigin } from './server/auth/origin.ts';
import { ACCESS_COOKIE, verifyAccessToken } from './server/auth/tokens.ts';
import { config as portalConfig } from './server/config.ts';
import { contentSecurityPolicy, newNonce } from './server/csp.ts';
import { redirectToPath } from './server/http.ts';

const PUBLIC_PAGES = ['/login', '/forbidden'];
const PUBLIC_API = [
  '/api/auth/login',
  '/api/auth/second-factor',
  '/api/auth/second-factor/enroll',
  '/api/auth/refresh',
  '/api/auth/logout',
  '/api/auth/oidc/start',
  '/api/auth/oidc/callback',
  '/api/health',
];

function jsonError(status: number, error: string, message: string): NextResponse {
  return NextResponse.json(
    { error, message },
    { status, headers: { 'Cache-Control': 'no-store' } },
  );
}

export async function proxy(req: NextRequest): Promise<NextResponse> {
  const csp = contentSecurityPolicy({
    nonce: newNonce(),
    gatewayPublicUrl: portalConfig().GATEWAY_PUBLIC_URL,
  });
  const response = await decide(req, csp);
  response.headers.set('Content-Security-Policy', csp);
  return response;
}

async function decide(req: NextRequest, csp: string): Promise<NextResponse> {
  const { pathname, search } = req.nextUrl;
  const renderHeaders = new Headers(req.headers);
  renderHeaders.set('Content-Security-Policy', csp);
  const render = { request: { headers: renderHeaders } };
  const isApi = pathname.startsWith('/api/');
  const isInternal = pathname.startsWith('/api/internal/');

  if (isApi && !isInternal) {
    const verdict = checkOrigin({
      method: req.method,
      origin: req.headers.get('origin'),
      secFetchSite: req.headers.get('sec-fetch-site'),
      host: req.headers.get('host'),
      forwardedHost: req.headers.get('x-forwarded-host'),
      forwardedProto: req.headers.get('x-forwarded-proto'),
      publicUrl: portalConfig().PORTAL_PUBLIC_URL,
    });
    if (!verdict.ok)
      return jsonError(
        403,
        'bad_origin',
        'This request did not come from the portal and was refused.',
      );
  }
  if (isInternal || PUBLIC_API.includes(pathname) || PUBLIC_PAGES.includes(pathname))
    return NextResponse.next(render);

  const claims = await verifyAccessToken(
    portalConfig().SESSION_SECRET,
    req.cookies.get(ACCESS_COOKIE)?.value,
  );
  if (!claims) {
    if (isApi)
      return jsonError(401, 'unauthenticated', 'Your session has expired. Please sign in again.');
    const next = encodeURIComponent(pathname + search);
    return redirectToPath(req, `/api/auth/refresh?next=${next}`);
  }
  const adminArea =
    pathname === '/admin' || pathname.startsWith('/admin/') || pathname.startsWith('/api/admin/');
  if (adminArea && claims.role !== 'admin') {
    if (isApi) return jsonError(403, 'forbidden', 'Administrators only.');
    return NextResponse.rewrite(new URL('/forbidden', req.nextUrl.origin), {
      ...render,
      status: 403,
    });
  }
  return NextResponse.next(render);
}

export const config = {
  matcher: [
    '/((?!_next/static|_next/image|favicon.ico|icon.svg|fonts/|robots.txt|early-attach.js).*)',
  ],
};
