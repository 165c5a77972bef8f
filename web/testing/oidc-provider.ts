// A real OpenID provider for tests (the oidc-provider package, the certified implementation),
// with one confidential test client and users whose claims (email, groups, amr) a test may
// change between sign-ins. Its sign-in page lists the users to pick from, and has a Cancel
// button that answers access_denied. It listens on 127.0.0.2, reached by its address from
// both Chromium and the portal's server (Node cannot resolve the browser's made-up names).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
// Loaded when a provider starts, not with the harness: oidc-provider warns on every load under
// Node 20, which would clutter every test that imports @raydesk/web/testing.
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { freePort, PORTAL_HOST_ADDRESS } from './portal-server.ts';

export interface TestOidcUser {
  /** The provider's subject (the `sub` claim), also the name on its sign-in page. */
  sub: string;
  email: string;
  emailVerified?: boolean;
  name?: string;
  groups?: string[];
  /** Authentication methods the provider reports for this user's sign-ins (RFC 8176). */
  amr?: string[];
}

export interface TestOidcProviderOptions {
  /** The portal's redirect URI (PORTAL_PUBLIC_URL + /api/auth/oidc/callback). */
  redirectUri: string;
  clientId?: string;
  clientSecret?: string;
  users: TestOidcUser[];
  /** The claim that carries groups (OIDC_GROUPS_CLAIM); default `groups`. */
  groupsClaim?: string;
}

export interface TestOidcProvider {
  /** The issuer, http://127.0.0.2:<port>. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Mutable: a test changes a user's claims here before the next sign-in. */
  users: Map<string, TestOidcUser>;
  /** The portal settings that point at this provider. */
  portalEnv(): Record<string, string>;
  close(): Promise<void>;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

export async function startTestOidcProvider(
  options: TestOidcProviderOptions,
): Promise<TestOidcProvider> {
  const port = await freePort();
  const issuer = `http://${PORTAL_HOST_ADDRESS}:${port}`;
  const clientId = options.clientId ?? 'raydesk-test';
  const clientSecret = options.clientSecret ?? 'raydesk-test-client-secret-0123456789';
  const groupsClaim = options.groupsClaim ?? 'groups';
  const users = new Map(options.users.map((u) => [u.sub, u]));
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: 'test-key',
    alg: 'RS256',
    use: 'sig',
  };

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['test-oidc-cookie-key-0123456789abcdef'] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      // amr: how the user authenticated (the login result's amr), in every ID token.
      openid: ['sub', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      // As at many providers, groups come with a scope of their own.
      groups: [groupsClaim],
    },
    // Put the claims in the ID token too, as many providers do; the portal also reads userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // A first-party client: no consent screen, every requested scope and claim granted.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const client = ctx.oidc.client!;
      const session = ctx.oidc.session!;
      const existing = session.grantIdFor(client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({
        clientId: client.clientId,
        accountId: session.accountId!,
      });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'name', groupsClaim]);
      await grant.save();
      session.ensureClientContainer(client.clientId);
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    async findAccount(_ctx, sub) {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          const current = users.get(sub) ?? user;
          return {
            sub,
            email: current.email,
            email_verified: current.emailVerified ?? true,
            name: current.name,
            ...(current.groups ? { [groupsClaim]: current.groups } : {}),
          };
        },
      };
    },
  };
  const { default: Provider } = await import('oidc-provider');
  const provider = new Provider(issuer, configuration);

  const providerRoutes = provider.callback();
  const interaction = async (req: IncomingMessage, res: ServerResponse, action?: string) => {
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        const choices = [...users.values()]
          .map(
            (u) =>
              `<button type="submit" name="login" value="${escapeHtml(u.sub)}">${escapeHtml(u.sub)}</button>`,
          )
          .join('');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><title>Test provider</title><h1>Test provider: sign in</h1>` +
            `<form method="post" action="/interaction/${details.uid}/login">${choices}</form>` +
            `<form method="post" action="/interaction/${details.uid}/cancel"><button>Cancel</button></form>`,
        );
        return;
      }
      const form = await formBody(req);
      if (action === 'cancel') {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'The user cancelled the sign-in.',
        });
        return;
      }
      const user = users.get(form.get('login') ?? '');
      if (!user) {
        res.writeHead(400).end('no such user');
        return;
      }
      await provider.interactionFinished(req, res, {
        login: { accountId: user.sub, ...(user.amr ? { amr: user.amr } : {}) },
      });
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`test provider: ${(error as Error).message}`);
    }
  };
  const server: Server = createServer((req, res) => {
    const match = /^\/interaction\/([\w-]+)(\/(login|cancel))?$/.exec(req.url ?? '');
    if (match) void interaction(req, res, match[3]);
    else void providerRoutes(req, res);
  });
  server.listen(port, PORTAL_HOST_ADDRESS);
  await once(server, 'listening');
  return {
    issuer,
    clientId,
    clientSecret,
    users,
    portalEnv: () => ({
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: clientId,
      OIDC_CLIENT_SECRET: clientSecret,
      OIDC_GROUPS_CLAIM: groupsClaim,
      OIDC_SCOPES: 'openid email profile groups',
    }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
