// Portal settings, read from the environment (the repository's .env is loaded first; real
// environment variables win). Parsed lazily so `next build` needs none of them.
import { secretSchema } from '@raydesk/common';
import { loadRootEnv } from '@raydesk/common/node';
import { z } from 'zod';
import { resolveDatabaseUrl } from '@raydesk/db/url';
import { parseOidcSettings, type OidcSettings } from './auth/oidc/settings.ts';

const schema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  PORTAL_PUBLIC_URL: z
    .url()
    .optional()
    .or(z.literal('').transform(() => undefined)),
  SESSION_SECRET: secretSchema('SESSION_SECRET'),
  ATTACH_TOKEN_SECRET: secretSchema('ATTACH_TOKEN_SECRET'),
  GATEWAY_SECRET: secretSchema('GATEWAY_SECRET'),
  GATEWAY_URL: z.string().default('http://127.0.0.1:7421'),
  /** Browsers reach the gateway here instead of through the portal's own origin. */
  GATEWAY_PUBLIC_URL: z
    .url({
      protocol: /^(https?|wss?)$/,
      error: 'GATEWAY_PUBLIC_URL must be an http(s) or ws(s) URL',
    })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  HYPERVISOR_HOST: z.string().default('127.0.0.1'),
  HYPERVISOR_PORT: z.coerce.number().int().default(7420),
  HYPERVISOR_SECRET: secretSchema('HYPERVISOR_SECRET'),
  HYPERVISOR_ID: z.string().default('local'),
  /** `on`: hosts and gateways come from the fleet registry in PostgreSQL (DATABASE_URL). */
  FLEET: z.enum(['on', 'off']).default('off'),
  LOGIN_MAX_FAILURES_ACCOUNT: z.coerce.number().int().min(1).default(5),
  LOGIN_MAX_FAILURES_ADDRESS: z.coerce.number().int().min(1).default(20),
  LOGIN_LOCKOUT_MINUTES: z.coerce.number().min(0.05).default(15),
  LOGIN_SLOWDOWN_MAX_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  DISPOSABLE_GRACE_SECONDS: z.coerce.number().int().min(5).default(60),
  DISPOSABLE_MAX_LIFETIME_MINUTES: z.coerce.number().min(1).default(60),
  /** Which hypervisor appliance backs "desktop" and "browser" VMs (e.g. `console` for tests). */
  PORTAL_DESKTOP_APPLIANCE: z.enum(['desktop', 'browser', 'console']).default('desktop'),
  PORTAL_BROWSER_APPLIANCE: z.enum(['desktop', 'browser', 'console']).default('browser'),
  ACCESS_TOKEN_MINUTES: z.coerce.number().min(0.1).default(10),
  SESSION_DAYS: z.coerce.number().min(0.01).default(14),
});

export type PortalConfig = z.infer<typeof schema> & {
  databaseUrl: string;
  /** Single sign-on (OpenID Connect); null when off. */
  oidc: OidcSettings | null;
};

let cached: PortalConfig | null = null;

export function config(): PortalConfig {
  if (cached) return cached;
  loadRootEnv();
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid portal configuration:\n  ${problems.join('\n  ')}`);
  }
  cached = {
    ...parsed.data,
    databaseUrl: resolveDatabaseUrl(),
    oidc: parseOidcSettings(process.env),
  };
  return cached;
}

/** For tests. */
export function resetConfig(): void {
  cached = null;
}
