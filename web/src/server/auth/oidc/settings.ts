// Single sign-on settings (OIDC_* in .env), checked with zod when the portal reads its
// configuration. Single sign-on is off unless OIDC_ISSUER is set.
import { z } from 'zod';

export const OIDC_CALLBACK_PATH = '/api/auth/oidc/callback';

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  /** Empty: a public client, which proves itself with PKCE alone. */
  clientSecret: string;
  /** PORTAL_PUBLIC_URL + OIDC_CALLBACK_PATH, registered at the provider. */
  redirectUri: string;
  scopes: string;
  /** "Sign in with <buttonLabel>". */
  buttonLabel: string;
  /** The claim (ID token or userinfo) that lists the user's groups. */
  groupsClaim: string;
  /** Whether a person the provider vouches for but Raydesk does not know gets an account. */
  createUsers: boolean;
  /** `amr` values that count as a second factor at the provider (satisfies requireTotp). */
  mfaAmr: string[];
}

const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalText = z.preprocess(blankIsUnset, z.string().trim().optional());
const commaList = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

const schema = z
  .object({
    OIDC_ISSUER: z.preprocess(
      blankIsUnset,
      z.url({ error: 'OIDC_ISSUER must be a URL' }).optional(),
    ),
    OIDC_CLIENT_ID: optionalText,
    OIDC_CLIENT_SECRET: optionalText,
    OIDC_SCOPES: optionalText.default('openid email profile'),
    OIDC_BUTTON_LABEL: z.preprocess(
      blankIsUnset,
      z
        .string()
        .trim()
        .max(60, 'OIDC_BUTTON_LABEL: at most 60 characters')
        .default('your organisation'),
    ),
    OIDC_GROUPS_CLAIM: z.preprocess(
      blankIsUnset,
      z
        .string()
        .trim()
        .regex(/^[\w:./-]{1,100}$/, 'OIDC_GROUPS_CLAIM must be a claim name')
        .default('groups'),
    ),
    OIDC_CREATE_USERS: z.preprocess(blankIsUnset, z.enum(['on', 'off']).default('on')),
    OIDC_MFA_AMR: z.preprocess((v) => (v === undefined ? 'mfa,otp,hwk' : v), commaList),
    PORTAL_PUBLIC_URL: z.preprocess(blankIsUnset, z.url().optional()),
  })
  .superRefine((env, ctx) => {
    if (!env.OIDC_ISSUER) return;
    if (!env.OIDC_CLIENT_ID)
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_CLIENT_ID'],
        message: 'required with OIDC_ISSUER',
      });
    if (!env.PORTAL_PUBLIC_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['PORTAL_PUBLIC_URL'],
        message:
          'required with OIDC_ISSUER: the redirect URI registered at the provider is built from it',
      });
    const issuer = new URL(env.OIDC_ISSUER);
    // Plain HTTP only to a provider on this machine (tests, a local development provider).
    if (
      issuer.protocol !== 'https:' &&
      !(issuer.protocol === 'http:' && LOOPBACK_HOST.test(issuer.hostname))
    )
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_ISSUER'],
        message: 'must be an https URL (http only for a loopback address)',
      });
    if (!env.OIDC_SCOPES.split(/\s+/).includes('openid'))
      ctx.addIssue({ code: 'custom', path: ['OIDC_SCOPES'], message: 'must include openid' });
  });

/** The single sign-on settings, null when OIDC_ISSUER is unset; throws on invalid ones. */
export function parseOidcSettings(env: Record<string, string | undefined>): OidcSettings | null {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid single sign-on settings:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  if (!e.OIDC_ISSUER || !e.OIDC_CLIENT_ID || !e.PORTAL_PUBLIC_URL) return null;
  return {
    issuer: new URL(e.OIDC_ISSUER),
    clientId: e.OIDC_CLIENT_ID,
    clientSecret: e.OIDC_CLIENT_SECRET ?? '',
    redirectUri: e.PORTAL_PUBLIC_URL.replace(/\/+$/, '') + OIDC_CALLBACK_PATH,
    scopes: e.OIDC_SCOPES,
    buttonLabel: e.OIDC_BUTTON_LABEL,
    groupsClaim: e.OIDC_GROUPS_CLAIM,
    createUsers: e.OIDC_CREATE_USERS === 'on',
    mfaAmr: e.OIDC_MFA_AMR,
  };
}
