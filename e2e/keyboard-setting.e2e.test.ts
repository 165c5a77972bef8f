// The keyboard-layout setting through the portal as a person uses it: Chromium reaches the
// portal as another computer (vdi.example.test -> 127.0.0.2), signs in, picks German on the home
// page, and the choice is stored for that user. Applying it in a desktop is tested with a real
// guest in hypervisor/test/keyboard.test.ts and web/viewer/test/browser-keys.test.ts.
//   npx tsx --test e2e/keyboard-setting.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  addPasswordUser,
  launchUserBrowser,
  startDesktopStack,
  type DesktopStack,
} from './lib/desktop-stack.ts';
import { REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import { PORTAL_BUILD_ID, type PortalServer } from '@raydesk/web/testing';

const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@keys.test', password: 'admin-password-keys' };
const ALICE = { email: 'alice@keys.test', password: 'alice-password-keys', name: 'Alice Keys' };

if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

let stack: DesktopStack;
let portal: PortalServer;
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  stack = await startDesktopStack('keys', ADMIN);
  ({ portal } = stack);
  await addPasswordUser(portal, ALICE);
  browser = await launchUserBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

test('a user picks German as their keyboard layout on the home page', async () => {
  const ctx = await browser.newContext({
    viewport: { width: 1360, height: 860 },
    baseURL: portal.url,
  });
  const page = await ctx.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(ALICE.email);
  await page.getByLabel('Password').fill(ALICE.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', { timeout: 30_000 });

  const select = page.getByLabel('Keyboard layout');
  assert.equal(await select.inputValue(), 'us', 'a new user types US');
  assert.deepEqual(await select.locator('option').allTextContents(), [
    'English (US)',
    'German',
    'French',
    'English (UK)',
  ]);
  await select.selectOption('de');
  await page.getByText('Saved. Your desktop uses it from now on.').waitFor({ timeout: 20_000 });
  assert.equal(await select.inputValue(), 'de', 'the choice shows at once');
  await page.screenshot({ path: join(SHOTS, 'home-keyboard-layout.png'), fullPage: true });
  const alice = await portal.db.user.findUniqueOrThrow({ where: { email: ALICE.email } });
  assert.equal(alice.keyboardLayout, 'de');
  // The home page keeps showing the stored choice (it polls /api/me).
  await page.reload();
  await waitFor('the stored layout', async () => (await select.inputValue()) === 'de', 20_000);

  // A body outside the list is refused by the API, and nothing changes.
  const refused = await page.evaluate(async () => {
    const r = await fetch('/api/me', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keyboardLayout: 'xx' }),
    });
    return r.status;
  });
  assert.equal(refused, 400);
  const still = await portal.db.user.findUniqueOrThrow({ where: { email: ALICE.email } });
  assert.equal(still.keyboardLayout, 'de');
  await ctx.close();
});
