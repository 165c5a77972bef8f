'use client';
// Browser-side API calls: JSON in and out, one shared refresh when the access token expired,
// and errors as plain messages the UI can show.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

let refreshing: Promise<boolean> | null = null;

async function refreshOnce(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' });
      // 409: another tab refreshed a moment ago; its cookies are already ours.
      return res.ok || res.status === 409;
    } catch {
      return false;
    } finally {
      setTimeout(() => (refreshing = null), 0);
    }
  })();
  return refreshing;
}

export async function api<T = unknown>(
  path: string,
  init: {
    method?: string;
    body?: unknown;
    signal?: AbortSignal;
    /** Go to the sign-in page on 401 (default); false throws the 401 to the caller instead. */
    redirectOnSignOut?: boolean;
  } = {},
): Promise<T> {
  const doFetch = () =>
    fetch(path, {
      method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
      headers: init.body !== undefined ? { 'content-type': 'application/json' } : undefined,
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      credentials: 'same-origin',
      signal: init.signal,
      cache: 'no-store',
    });
  let res = await doFetch();
  if (res.status === 401 && !path.startsWith('/api/auth/')) {
    if (await refreshOnce()) res = await doFetch();
    if (res.status === 401) {
      if (init.redirectOnSignOut !== false) window.location.href = signInUrl();
      throw new ApiError(401, 'unauthenticated', 'Your session has expired. Please sign in again.');
    }
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = {};
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      String(body.error ?? 'error'),
      String(body.message ?? `The request failed (${res.status}).`),
      Array.isArray(body.issues) ? (body.issues as { path: string; message: string }[]) : [],
    );
  }
  return body as T;
}

/** The sign-in page, coming back to this page afterwards. */
export function signInUrl(): string {
  return `/login?next=${encodeURIComponent(window.location.pathname)}`;
}

export function errorText(error: unknown): string {
  return error instanceof ApiError
    ? error.message
    : 'Could not reach the portal. Check your connection.';
}
