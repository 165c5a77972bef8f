/// <reference lib="dom" />
// Single sign-on in real Chromium through a real OpenID provider (oidc-provider, in
// @raydesk/web/testing), against the real portal on a throwaway database, reached as
// http://vdi.example.test (127.0.0.2). The provider's sign-in page lets the test pick a user;
// the test changes users' claims (groups, amr) between sign-ins. No VM is needed.
//
//   npx tsx --test e2e/oidc.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import {
  authenticatorCode,
  freePort,
  hashPassword,
  OIDC_TRANSACTION_COOKIE,
  openOidcTransaction,
  PORTAL_HOST_NAME,
  PORTAL_HOST_RESOLVER_RULE,
  sealOidcTransaction,
  startPortalServer,
  startTestOidcProvider,
  type PortalServer,
  type TestOidcProvider,
} from '@raydesk/web/testing';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@sso.test', password: 'admin-password-sso' };
const BOB = { email: 'bob@sso.test', password: 'bob-password-sso' };
const LABEL = 'Test ID';

let portal: PortalServer;
let idp: TestOidcProvider;
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  const publicUrl = `http://${PORTAL_HOST_NAME}:${port}`;
  idp = await startTestOidcProvider({
    redirectUri: `${publicUrl}/api/auth/oidc/callback`,
    users: [
      {
        sub: 'ada',
        email: 'Ada@SSO.test',
        name: 'Ada Lovelace',
        groups: ['Finance', '/Engineering', 'Marketing'],
      },
      { sub: 'bob', email: BOB.email, name: 'Bob Existing', groups: ['Staff'] },
      { sub: 'carol', email: 'carol@sso.test', groups: ['Secure'] },
      { sub: 'dave', email: 'dave@sso.test', groups: ['Secure'], amr: ['pwd', 'otp'] },
      { sub: 'eve', email: 'eve@sso.test', emailVerified: false },
    ],
  });
  portal = await startPortalServer({
    port,
    // Nothing listens there: sign-in does not need the hypervisor or the gateway.
    hypervisor: { port: await freePort(), secret: 'hypervisor-secret-sso-0123456789' },
    gatewayUrl: `http://127.0.0.1:${await freePort()}`,
    gatewaySecret: 'gateway-secret-sso-0123456789abcdef',
    attachSecret: 'attach-secret-sso-0123456789abcdef',
    admin: ADMIN,
    env: { ...idp.portalEnv(), PORTAL_PUBLIC_URL: publicUrl, OIDC_BUTTON_LABEL: LABEL },
  });
  for (const [name, requireTotp] of [
    ['Finance', false],
    ['Engineering', false],
    ['Staff', false],
    ['Secure', true],
  ] as const)
    await portal.db.group.create({ data: { name, requireTotp } });
  const bob = await portal.db.user.create({
    data: { email: BOB.email, name: 'Bob', passwordHash: await hashPassword(BOB.password) },
  });
  // An admin put Bob in Engineering by hand; the provider's claim does not name it.
  const engineering = await portal.db.group.findUniqueOrThrow({ where: { name: 'Engineering' } });
  await portal.db.groupMember.create({ data: { groupId: engineering.id, userId: bob.id } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      PORTAL_HOST_RESOLVER_RULE,
    ],
  });
});

after(async () => {
  await browser?.close();
  await portal?.close();
  await idp?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ baseURL: portal.url });
  return context.newPage();
}

/** From the portal's sign-in page to the provider's, where `sub` is picked. */
async function signInAtProvider(page: Page, sub: string, from = '/login') {
  await page.goto(from);
  await page.getByRole('link', { name: `Sign in with ${LABEL}` }).click();
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.getByRole('button', { name: sub, exact: true }).click();
}

const onPortal = (u: URL) => u.host === `${PORTAL_HOST_NAME}:${portal.port}`;

async function groupsOf(email: string): Promise<Record<string, string>> {
  const user = await portal.db.user.findUniqueOrThrow({
    where: { email },
    include: { groups: { include: { group: true } } },
  });
  return Object.fromEntries(user.groups.map((m) => [m.group.name, m.source]));
}

async function expectRefusal(page: Page, text: RegExp) {
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/login');
  const alert = page.locator('.alert[role="alert"]');
  await alert.waitFor();
  assert.match((await alert.textContent()) ?? '', text);
  const body = (await page.locator('body').textContent()) ?? '';
  assert.doesNotMatch(body, /\bat [\w.<>]+ \(|Error:|node_modules/, 'no stack trace');
}

test('the sign-in page offers "Sign in with <label>"', async () => {
  const page = await newPage();
  await page.goto('/login');
  const button = page.getByRole('link', { name: `Sign in with ${LABEL}` });
  await button.waitFor();
  assert.match((await button.getAttribute('href')) ?? '', /^\/api\/auth\/oidc\/start\?next=/);
  await page.screenshot({ path: join(SHOTS, 'login-sso.png'), fullPage: true });
  await page.context().close();
});

test('a first sign-in creates the user with the groups the claim names, and keeps `next`', async () => {
  const page = await newPage();
  await signInAtProvider(page, 'ada', '/login?next=%2Faccount');
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/account');
  const ada = await portal.db.user.findUniqueOrThrow({
    where: { email: 'ada@sso.test' },
    include: { oidcIdentities: true },
  });
  assert.equal(ada.name, 'Ada Lovelace');
  assert.deepEqual(
    ada.oidcIdentities.map((i) => [i.issuer, i.subject]),
    [[idp.issuer, 'ada']],
  );
  // Marketing names no Raydesk group: ignored, not created.
  assert.deepEqual(await groupsOf('ada@sso.test'), { Finance: 'oidc', Engineering: 'oidc' });
  assert.equal(await portal.db.group.count({ where: { name: 'Marketing' } }), 0);
  const success = await portal.db.auditEvent.findFirstOrThrow({
    where: { action: 'login.success', actorId: ada.id },
  });
  assert.equal(JSON.parse(success.details).method, 'oidc');
  assert.equal(await portal.db.auditEvent.count({ where: { action: 'user.sso_created' } }), 1);
  // The same portal session as a password sign-in: the account page knows who this is.
  await page.getByText('ada@sso.test').first().waitFor();
  const cookies = await page.context().cookies();
  assert.ok(cookies.some((c) => c.name === 'rd_access' && c.httpOnly));
  assert.ok(!cookies.some((c) => c.name === OIDC_TRANSACTION_COOKIE), 'the transaction is over');
  await page.context().close();
});

test('a second sign-in matches the same user; a changed groups claim updates memberships', async () => {
  idp.users.get('ada')!.groups = ['engineering', 'Staff'];
  const page = await newPage();
  await signInAtProvider(page, 'ada');
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/');
  assert.equal(await portal.db.user.count({ where: { email: 'ada@sso.test' } }), 1);
  assert.equal(await portal.db.oidcIdentity.count(), 1);
  assert.deepEqual(await groupsOf('ada@sso.test'), { Engineering: 'oidc', Staff: 'oidc' });
  const sync = await portal.db.auditEvent.findFirstOrThrow({
    where: { action: 'user.sso_groups' },
    orderBy: { at: 'desc' },
  });
  assert.deepEqual(JSON.parse(sync.details), { added: ['Staff'], removed: ['Finance'] });
  assert.equal(await portal.db.auditEvent.count({ where: { action: 'user.sso_created' } }), 1);
  await page.context().close();
});

test('an existing account is matched by verified email and linked; manual memberships stay', async () => {
  const page = await newPage();
  await signInAtProvider(page, 'bob');
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/');
  const bob = await portal.db.user.findUniqueOrThrow({
    where: { email: BOB.email },
    include: { oidcIdentities: true },
  });
  assert.equal(bob.name, 'Bob', 'the account is the existing one');
  assert.equal(bob.oidcIdentities[0]?.subject, 'bob');
  assert.deepEqual(await groupsOf(BOB.email), { Engineering: 'manual', Staff: 'oidc' });
  await page.context().close();
});

test('an unverified email is refused with a clear page', async () => {
  const page = await newPage();
  await signInAtProvider(page, 'eve');
  await expectRefusal(page, /did not confirm your email address/);
  assert.equal(await portal.db.user.count({ where: { email: 'eve@sso.test' } }), 0);
  await page.context().close();
});

test('cancelling at the provider comes back as a clear refusal', async () => {
  const page = await newPage();
  await page.goto('/login');
  await page.getByRole('link', { name: `Sign in with ${LABEL}` }).click();
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expectRefusal(page, new RegExp(`sign-in at ${LABEL} was cancelled or refused`));
  await page.screenshot({ path: join(SHOTS, 'login-sso-denied.png'), fullPage: true });
  await page.context().close();
});

/**
 * Signs in at the provider but holds the provider's answer instead of delivering it: the
 * sign-in form's post is taken over, and its redirects (to the provider's resume step, then to
 * the portal's callback) are followed by hand with the browser's cookies, up to the callback.
 */
async function heldCallback(page: Page, sub: string): Promise<URL> {
  let held: URL | null = null;
  await page.route(
    (url) => url.origin === idp.issuer && /^\/interaction\/[^/]+\/login$/.test(url.pathname),
    async (route) => {
      const finished = await route.fetch({ maxRedirects: 0 });
      const resume = new URL(finished.headers()['location']!, idp.issuer);
      const answer = await page.context().request.get(resume.href, { maxRedirects: 0 });
      held = new URL(answer.headers()['location']!, idp.issuer);
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>held</p>' });
    },
  );
  await signInAtProvider(page, sub);
  await page.getByText('held').waitFor();
  await page.unrouteAll();
  assert.ok(held, 'the provider answered');
  return held;
}

test('a wrong state is refused, and the answer cannot be used again afterwards', async () => {
  const page = await newPage();
  const answer = await heldCallback(page, 'ada');
  const tampered = new URL(answer);
  tampered.searchParams.set('state', 'not-the-state-this-browser-sent');
  await page.goto(tampered.href);
  await expectRefusal(page, /could not be verified/);
  const audit = await portal.db.auditEvent.findFirstOrThrow({
    where: { action: 'login.failure' },
    orderBy: { at: 'desc' },
  });
  assert.match(JSON.parse(audit.details).detail, /state/);
  // The failure ended the attempt: the genuine answer now finds no sign-in in progress.
  await page.goto(answer.href);
  await expectRefusal(page, /took too long, or was started in another browser/);
  assert.equal(
    await page
      .context()
      .cookies()
      .then((c) => c.some((k) => k.name === 'rd_access')),
    false,
  );
  await page.context().close();
});

test('an ID token whose nonce is not the one this browser sent is refused', async () => {
  const page = await newPage();
  await page.goto('/login');
  await page.getByRole('link', { name: `Sign in with ${LABEL}` }).click();
  await page.waitForURL((u) => u.origin === idp.issuer);
  // Swap the nonce in this browser's sealed transaction, keeping its state and PKCE verifier:
  // the code exchange then succeeds and only the ID token's nonce check can refuse it.
  const secret = portal.env.SESSION_SECRET!;
  const cookies = await page.context().cookies(`${portal.url}/api/auth/oidc/callback`);
  const sealed = cookies.find((c) => c.name === OIDC_TRANSACTION_COOKIE);
  assert.ok(sealed, 'the transaction cookie is set, for the callback path');
  const transaction = await openOidcTransaction(secret, sealed.value);
  assert.ok(transaction);
  await page.context().addCookies([
    {
      ...sealed,
      value: await sealOidcTransaction(secret, { ...transaction, nonce: 'x'.repeat(43) }),
    },
  ]);
  await page.getByRole('button', { name: 'ada', exact: true }).click();
  await expectRefusal(page, /could not be verified/);
  const audit = await portal.db.auditEvent.findFirstOrThrow({
    where: { action: 'login.failure' },
    orderBy: { at: 'desc' },
  });
  assert.match(JSON.parse(audit.details).detail, /nonce/);
  await page.context().close();
});

let carolSecret = '';

test('a member of a requireTotp group enrols the second factor after signing in', async () => {
  const page = await newPage();
  await signInAtProvider(page, 'carol');
  await page.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();
  assert.equal(
    await page
      .context()
      .cookies()
      .then((c) => c.some((k) => k.name === 'rd_access')),
    false,
  );
  await page.getByAltText('QR code for your authenticator app').waitFor();
  carolSecret = (await page.getByTestId('totp-secret').textContent()) ?? '';
  await page.screenshot({ path: join(SHOTS, 'login-sso-enrol.png'), fullPage: true });
  await page.getByLabel('Code from the app').fill(await authenticatorCode(carolSecret));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  await page.getByTestId('recovery-codes').waitFor();
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/');
  const success = await portal.db.auditEvent.findFirstOrThrow({
    where: { action: 'login.success', actorEmail: 'carol@sso.test' },
  });
  assert.deepEqual(
    [JSON.parse(success.details).method, JSON.parse(success.details).secondFactor],
    ['oidc', 'totp'],
  );
  await page.context().close();
});

test("the next sign-in asks for the code; the sign-in page doesn't offer it after sign-out", async () => {
  const page = await newPage();
  await signInAtProvider(page, 'carol');
  await page.getByLabel('Code').waitFor();
  await page.getByLabel('Code').fill('000000');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').getByText('That code is not right').waitFor();
  const next = await authenticatorCode(carolSecret, new Date(Date.now() + 30_000));
  await page.getByLabel('Code').fill(next);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/');
  const left = await page.context().cookies(`${portal.url}/login`);
  assert.equal(
    left.some((c) => c.name === 'rd_sso_step'),
    false,
    'the challenge cookie is gone',
  );
  await page.context().close();
});

test('a provider that reports a second factor (amr otp) satisfies requireTotp', async () => {
  const page = await newPage();
  await signInAtProvider(page, 'dave');
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/');
  const success = await portal.db.auditEvent.findFirstOrThrow({
    where: { action: 'login.success', actorEmail: 'dave@sso.test' },
  });
  assert.equal(JSON.parse(success.details).secondFactor, 'provider');
  assert.deepEqual(await groupsOf('dave@sso.test'), { Secure: 'oidc' });
  await page.context().close();
});

test('a provider that is down gives a clear page, at the callback and at the start', async () => {
  const page = await newPage();
  const answer = await heldCallback(page, 'ada');
  await idp.close();
  await page.goto(answer.href);
  await expectRefusal(page, new RegExp(`sign-in service \\(${LABEL}\\) cannot be reached`));
  await page.getByRole('link', { name: `Sign in with ${LABEL}` }).click();
  await expectRefusal(page, /cannot be reached right now/);
  await page.screenshot({ path: join(SHOTS, 'login-sso-unavailable.png'), fullPage: true });
  // Password sign-in still works.
  await page.getByLabel('Email').fill(BOB.email);
  await page.getByLabel('Password').fill(BOB.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => onPortal(u) && u.pathname === '/');
  await page.context().close();
});
