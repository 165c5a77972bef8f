/// <reference lib="dom" />
// Two-step sign-in in real Chromium, against the real portal on a throwaway database: a group
// that requires it makes its member enrol at sign-in (QR code, first code, recovery codes); the
// next sign-in asks for a code; a wrong code is refused; a recovery code works once; an admin's
// reset sends the user back to enrolment. Codes are computed from the secret the page shows, as
// an authenticator app would from the QR code. No VM is needed, so no hypervisor runs: the
// portal's health only requires its web server and database.
//
//   npx tsx --test e2e/second-factor.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import {
  authenticatorCode,
  freePort,
  hashPassword,
  startPortalServer,
  type PortalServer,
} from '@raydesk/web/testing';
import { launchUserBrowser } from './lib/desktop-stack.ts';

const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@2fa.test', password: 'admin-password-2fa' };
const DANA = { email: 'dana@2fa.test', password: 'dana-password-2fa', name: 'Dana Finance' };

let portal: PortalServer;
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  portal = await startPortalServer({
    port,
    // Nothing listens there: sign-in does not need the hypervisor or the gateway.
    hypervisor: { port: await freePort(), secret: 'hypervisor-secret-2fa-0123456789' },
    gatewayUrl: `http://127.0.0.1:${await freePort()}`,
    gatewaySecret: 'gateway-secret-2fa-0123456789abcdef',
    attachSecret: 'attach-secret-2fa-0123456789abcdef',
    admin: ADMIN,
    env: { LOGIN_MAX_FAILURES_ACCOUNT: '5', LOGIN_MAX_FAILURES_ADDRESS: '100' },
  });
  await portal.db.user.create({
    data: { email: DANA.email, name: DANA.name, passwordHash: await hashPassword(DANA.password) },
  });
  browser = await launchUserBrowser();
});

after(async () => {
  await browser?.close();
  await portal?.close();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ baseURL: portal.url });
  return context.newPage();
}

async function enterPassword(page: Page, who: { email: string; password: string }) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The code an authenticator app shows now, or for the next 30-s step (no code works twice). */
const codeFor = (secret: string, stepsAhead = 0) =>
  authenticatorCode(secret, new Date(Date.now() + 30_000 * stepsAhead));

test('an admin makes a group require two-step sign-in and adds a member', async () => {
  const page = await newPage();
  await enterPassword(page, ADMIN);
  await page.waitForURL((u) => u.pathname === '/');
  await page.goto('/admin/groups');
  await page.getByLabel('Name').fill('Finance');
  await page.getByLabel('Require two-step sign-in').check();
  await page.getByRole('button', { name: 'Create group' }).click();
  const card = page.getByRole('region', { name: 'Group Finance' });
  await card.waitFor();
  await card.getByLabel('Add a member to Finance').fill(DANA.email);
  await card.getByRole('button', { name: 'Add' }).click();
  await card.getByText(DANA.email).waitFor();
  await page.screenshot({ path: join(SHOTS, 'admin-groups.png'), fullPage: true });
  const group = await portal.db.group.findUniqueOrThrow({
    where: { name: 'Finance' },
    include: { members: true },
  });
  assert.equal(group.requireTotp, true);
  assert.equal(group.members.length, 1);
  await page.context().close();
});

let danaSecret = '';
let recoveryCodes: string[] = [];

test('the member enrols at sign-in: QR code, first code, recovery codes, then home', async () => {
  const page = await newPage();
  await enterPassword(page, DANA);
  await page.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();
  await page.getByAltText('QR code for your authenticator app').waitFor();
  danaSecret = (await page.getByTestId('totp-secret').textContent()) ?? '';
  assert.match(danaSecret, /^[A-Z2-7]{16,}$/);
  await page.screenshot({ path: join(SHOTS, 'login-totp-enrol.png'), fullPage: true });
  await page.getByLabel('Code from the app').fill('000000');
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  await page.getByRole('alert').getByText('That code is not right').waitFor();
  await page.getByLabel('Code from the app').fill(await codeFor(danaSecret));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  const list = page.getByTestId('recovery-codes');
  await list.waitFor();
  recoveryCodes = (await list.locator('li').allTextContents()).map((c) => c.trim());
  assert.equal(recoveryCodes.length, 10);
  await page.screenshot({ path: join(SHOTS, 'login-recovery-codes.png'), fullPage: true });
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  const row = await portal.db.user.findUniqueOrThrow({ where: { email: DANA.email } });
  assert.ok(row.totpEnabledAt);
  assert.ok(row.totpSecret && !row.totpSecret.includes(danaSecret), 'the secret is sealed');
  await page.context().close();
});

test('the next sign-in asks for a code; a wrong one is refused, the right one signs in', async () => {
  const page = await newPage();
  await enterPassword(page, DANA);
  await page.getByLabel('Code').fill('123456');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').getByText('That code is not right').waitFor();
  assert.equal(new URL(page.url()).pathname, '/login', 'no session without the second factor');
  await page.screenshot({ path: join(SHOTS, 'login-totp-code.png'), fullPage: true });
  // The enrolment used the current step; the next step's code is the next one the app shows.
  await page.getByLabel('Code').fill(await codeFor(danaSecret, 1));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await page.goto('/account');
  await page.getByText('10 recovery codes left').waitFor();
  await page.screenshot({ path: join(SHOTS, 'account-two-step.png'), fullPage: true });
  assert.equal(await page.getByRole('button', { name: 'Turn off' }).count(), 0, 'required');
  await page.context().close();
});

test('a recovery code signs in once', async () => {
  for (const expectOk of [true, false]) {
    const page = await newPage();
    await enterPassword(page, DANA);
    await page.getByLabel('Code').fill(recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Continue' }).click();
    if (expectOk) await page.waitForURL((u) => u.pathname === '/');
    else await page.getByRole('alert').getByText('That code is not right').waitFor();
    await page.context().close();
  }
});

test("an admin's reset removes the second factor and the member enrols again", async () => {
  const admin = await newPage();
  await enterPassword(admin, ADMIN);
  await admin.waitForURL((u) => u.pathname === '/');
  await admin.goto('/admin/users');
  admin.once('dialog', (d) => void d.accept());
  const row = admin.getByRole('row').filter({ hasText: DANA.email });
  await row.getByRole('button', { name: 'Reset two-step' }).click();
  await admin.getByText(`Two-step sign-in of ${DANA.email} removed.`).waitFor();
  await admin.context().close();
  const dana = await portal.db.user.findUniqueOrThrow({ where: { email: DANA.email } });
  assert.equal(dana.totpEnabledAt, null);
  assert.equal(await portal.db.recoveryCode.count({ where: { userId: dana.id } }), 0);
  const audit = await portal.db.auditEvent.findFirst({ where: { action: 'totp.reset' } });
  assert.equal(audit?.targetId, dana.id);

  const page = await newPage();
  await enterPassword(page, DANA);
  await page.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();
  await page.context().close();
});

test('the second step refuses a forged or missing challenge with a clear error', async () => {
  const forged = await portal.request('/api/auth/second-factor', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: portal.url },
    body: JSON.stringify({ challenge: 'aaaaaaaaaa.bbbbbbbbbbbb.cccccccccc', code: '123456' }),
  });
  assert.equal(forged.status, 401);
  assert.match(forged.text, /challenge_expired/);
  const missing = await portal.request('/api/auth/second-factor', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: portal.url },
    body: JSON.stringify({ code: '123456' }),
  });
  assert.equal(missing.status, 400);
  assert.ok(existsSync(join(SHOTS, 'login-totp-code.png')));
});
