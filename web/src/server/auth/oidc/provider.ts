// The relying party: the authorization code flow with PKCE, state and nonce (openid-client).
// The provider's metadata comes from discovery on OIDC_ISSUER, fetched on first use and kept
// until a request to the provider fails. Between the redirect to the provider and its answer,
// the flow's secrets (state, nonce, PKCE verifier) and where to go next wait in an encrypted,
// HttpOnly cookie bound to this browser; nothing is stored on the server.
import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { identityFromClaims, type ProviderIdentity } from './claims.ts';
import type { OidcSettings } from './settings.ts';

export const TRANSACTION_COOKIE = 'rd_oidc';
export const TRANSACTION_COOKIE_PATH = '/api/auth/oidc';
export const TRANSACTION_TTL_SECONDS = 600;
/** Seconds to wait for the provider before saying it is unavailable. */
const PROVIDER_TIMEOUT_SECONDS = 10;

/** Why a single sign-on did not work; the sign-in page explains each. */
export type SsoFailure =
  | 'off'
  | 'unavailable'
  | 'denied'
  | 'invalid'
  | 'expired'
  | 'unverified'
  | 'no_account'
  | 'conflict'
  | 'disabled';

export class SsoError extends Error {
  constructor(
    readonly failure: SsoFailure,
    message: string,
    readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'SsoError';
  }
}

let discovered: { key: string; configuration: Promise<oidc.Configuration> } | null = null;

function configurationFor(settings: OidcSettings): Promise<oidc.Configuration> {
  const key = `${settings.issuer.href} ${settings.clientId}`;
  if (discovered?.key === key) return discovered.configuration;
  const configuration = oidc.discovery(
    settings.issuer,
    settings.clientId,
    undefined,
    settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None(),
    {
      timeout: PROVIDER_TIMEOUT_SECONDS,
      // settings.ts allows plain HTTP only for a provider on a loopback address.
      execute: settings.issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
    },
  );
  discovered = { key, configuration };
  configuration.catch(() => forgetProvider());
  return configuration;
}

/** Discover again on next use (after the provider failed us). */
export function forgetProvider(): void {
  discovered = null;
}

const transactionSchema = z.object({
  state: z.string().min(16),
  nonce: z.string().min(16),
  verifier: z.string().min(43),
  next: z.string(),
});
export type Transaction = z.infer<typeof transactionSchema>;

function transactionKey(sessionSecret: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', sessionSecret, 'raydesk', 'oidc-transaction', 32));
}

export async function sealTransaction(sessionSecret: string, t: Transaction): Promise<string> {
  return new EncryptJWT({ ...t })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt()
    .setExpirationTime(`${TRANSACTION_TTL_SECONDS}s`)
    .encrypt(transactionKey(sessionSecret));
}

export async function openTransaction(
  sessionSecret: string,
  sealed: string | undefined,
): Promise<Transaction | null> {
  if (!sealed) return null;
  try {
    const { payload } = await jwtDecrypt(sealed, transactionKey(sessionSecret));
    return transactionSchema.parse(payload);
  } catch {
    return null;
  }
}

function unavailable(error: unknown): SsoError {
  forgetProvider();
  return new SsoError('unavailable', 'the provider could not be reached', error);
}

/** Where to send the browser, and the sealed transaction to keep in its cookie meanwhile. */
export async function beginSignIn(
  settings: OidcSettings,
  sessionSecret: string,
  next: string,
): Promise<{ url: URL; transaction: string }> {
  const configuration = await configurationFor(settings).catch((e) => {
    throw unavailable(e);
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const transaction: Transaction = {
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    verifier,
    next,
  };
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: settings.redirectUri,
    scope: settings.scopes,
    state: transaction.state,
    nonce: transaction.nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url, transaction: await sealTransaction(sessionSecret, transaction) };
}

/**
 * The provider's answer at the redirect URI: checks state, exchanges the code (with the PKCE
 * verifier), verifies the ID token (signature, issuer, audience, nonce), reads userinfo, and
 * returns who signed in and where they were going.
 */
export async function finishSignIn(
  settings: OidcSettings,
  sessionSecret: string,
  query: URLSearchParams,
  sealedTransaction: string | undefined,
): Promise<{ identity: ProviderIdentity; next: string }> {
  const transaction = await openTransaction(sessionSecret, sealedTransaction);
  if (!transaction) {
    throw new SsoError('expired', 'no sign-in in progress in this browser (or it expired)');
  }
  const configuration = await configurationFor(settings).catch((e) => {
    throw unavailable(e);
  });
  // The redirect URI as registered, with the provider's answer: openid-client sends the URL
  // without its query as redirect_uri in the token request.
  const answer = new URL(settings.redirectUri);
  for (const [k, v] of query) answer.searchParams.append(k, v);
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(configuration, answer, {
      pkceCodeVerifier: transaction.verifier,
      expectedState: transaction.state,
      expectedNonce: transaction.nonce,
      idTokenExpected: true,
    });
  } catch (e) {
    throw classify(e);
  }
  const idToken = tokens.claims();
  if (!idToken) throw new SsoError('invalid', 'the provider returned no ID token');
  let userinfo: Record<string, unknown> = {};
  if (configuration.serverMetadata().userinfo_endpoint) {
    try {
      userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idToken.sub);
    } catch (e) {
      throw classify(e);
    }
  }
  return {
    identity: identityFromClaims(idToken, userinfo, settings.groupsClaim),
    next: transaction.next,
  };
}

/** Codes of failures that are the provider's trouble (down, slow, answering garbage). */
const PROVIDER_TROUBLE = new Set([
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
]);

function classify(error: unknown): SsoError {
  if (error instanceof oidc.AuthorizationResponseError) {
    return new SsoError(
      error.error === 'access_denied' ? 'denied' : 'invalid',
      `the provider answered ${error.error}`,
      error,
    );
  }
  if (error instanceof oidc.ResponseBodyError && error.status < 500) {
    // An error answer from the token endpoint, e.g. a code used twice or a wrong verifier.
    return new SsoError('invalid', `the provider refused: ${error.error}`, error);
  }
  if (error instanceof oidc.ClientError && !PROVIDER_TROUBLE.has(error.code ?? '')) {
    // A response that failed a check: state, nonce, signature, issuer, audience. The cause
    // names which (e.g. 'unexpected ID Token "nonce" claim value').
    const which = error.cause instanceof Error ? error.cause.message : error.message;
    return new SsoError('invalid', which, error);
  }
  // fetch's TypeError (refused, reset, DNS), timeouts, 5xx answers.
  return unavailable(error);
}
