// Route handler plumbing: typed errors, JSON parsing with zod, and one error boundary that never
// leaks stack traces.
import { NextResponse, type NextRequest } from 'next/server';
import { z, type ZodType } from 'zod';
import { log } from './log.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what = 'Not found.') => new HttpError(404, 'not_found', what);
export const forbidden = (message = 'You do not have access to this.') =>
  new HttpError(403, 'forbidden', message);
export const unauthorized = (message = 'Please sign in.') =>
  new HttpError(401, 'unauthenticated', message);

export function json(data: unknown, init?: ResponseInit): NextResponse {
  const response = NextResponse.json(data, init);
  response.headers.set('Cache-Control', 'no-store');
  return response;
}

// A host name, an IPv4 address or a bracketed IPv6 address, with an optional port.
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;

/**
 * The origin the browser used, from its Host header (X-Forwarded-Host only reaches the app when
 * TRUST_PROXY is on: web/server.mjs drops it otherwise) and the scheme web/server.mjs found for
 * the connection. Null when Host is missing or malformed.
 */
export function browserOrigin(headers: Headers): string | null {
  const host = (headers.get('x-forwarded-host') ?? headers.get('host'))?.split(',')[0]?.trim();
  if (!host || !HOST_HEADER.test(host)) return null;
  const proto = headers.get('x-forwarded-proto')?.split(',')[0]?.trim();
  return `${proto === 'https' ? 'https' : 'http'}://${host}`;
}

/**
 * A redirect to a path of this portal, on the host and scheme the browser used. The Location is
 * absolute so that every client (not only browsers, which would resolve a relative one the same
 * way) lands on the name it asked for; it is relative when Host is unusable. The request URLs
 * Next hands the app carry a placeholder origin, never the browser's, so they are not used.
 */
export function redirectToPath(
  req: { headers: Headers },
  path: string,
  status: 303 | 307 = 307,
): NextResponse {
  if (!path.startsWith('/') || path.startsWith('//') || path.includes('\\'))
    throw new Error(`not a portal path: ${path}`);
  const origin = browserOrigin(req.headers);
  return new NextResponse(null, {
    status,
    headers: { Location: origin ? origin + path : path, 'Cache-Control': 'no-store' },
  });
}

export function zodMessage(error: z.ZodError): string {
  return error.issues
    .map((issue) =>
      issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    )
    .join('; ');
}

export async function parseBody<T extends ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  let body: unknown = {};
  const text = await req.text();
  if (text.length > 64 * 1024) throw new HttpError(413, 'too_large', 'Request body too large.');
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'invalid_json', 'The request body is not valid JSON.');
    }
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new HttpError(400, 'invalid', zodMessage(parsed.error), {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

export function parseQuery<T extends ZodType>(req: NextRequest, schema: T): z.infer<T> {
  const parsed = schema.safeParse(Object.fromEntries(req.nextUrl.searchParams));
  if (!parsed.success) throw new HttpError(400, 'invalid', zodMessage(parsed.error));
  return parsed.data;
}

export function errorResponse(error: unknown): NextResponse {
  if (error instanceof HttpError) {
    return json(
      { error: error.code, message: error.message, ...error.extra },
      { status: error.status },
    );
  }
  const name = error instanceof Error ? error.name : '';
  if (name === 'HypervisorError') {
    const code = (error as { code?: string }).code;
    const status =
      code === 'not_found'
        ? 404
        : code === 'insufficient_memory'
          ? 503
          : code === 'illegal_transition'
            ? 409
            : 502;
    return json({ error: `hypervisor_${code}`, message: (error as Error).message }, { status });
  }
  log.error({ err: error }, 'unhandled error in a route');
  return json(
    { error: 'internal', message: 'Something went wrong on our side. Please try again.' },
    { status: 500 },
  );
}

type Handler<C> = (req: NextRequest, ctx: C) => Promise<Response>;

/** Wraps a route handler so every failure becomes a clean JSON error. */
export function route<C>(handler: Handler<C>): Handler<C> {
  return async (req, ctx) => {
    try {
      return await handler(req, ctx);
    } catch (error) {
      return errorResponse(error);
    }
  };
}
