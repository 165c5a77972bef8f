// The keyboard-layout setting through the portal as a person uses it: Chromium reaches the
// portal as another computer (vdi.example.test -> 127.0.0.2), signs in, picks German on the home
// page, and the choice is stored for that user. Applying it in a desktop is tested with a real
// guest in hypervisor/test/keyboard.test.ts and web/viewer/test/browser-keys.test.ts.
//   npx tsx --test e2e/keyboard-setting.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import {
  freePort,
  hashPassword,
  PORTAL_BUILD_ID,
  PORTAL_HOST_RESOLVER_RULE,
  startPortalServer,
  type PortalServer,
} from '@raydesk/web/testing';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@keys.test', password: 'admin-password-keys' };
const ALICE = { email: 'alice@keys.test', password: 'alice-password-keys', name: 'Alice Keys' };

if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

let hypervisor: RunningHypervisor;
let gateway: Gateway;
let portal: PortalServer;
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  loadRootEnv();
  const port = await freePort();
  const gatewaySecret = `keys-gateway-secret-${Date.now()}`;
  const attachSecret = `keys-attach-secret-0123456789abcdef-${Date.now()}`;
  hypervisor = await startEphemeralHypervisor();
  gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: gatewaySecret,
      attachTokenSecret: attachSecret,
      hypervisorUrl: hypervisor.url,
      hypervisorSecret: hypervisor.config.secret,
      portalInternalUrl: `http://127.0.0.1:${port}`,
      allowedOrigins: [],
      logLevel: 'warn',
    },
  });
  const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
  portal = await startPortalServer({
    port,
    hypervisor: { port: hypervisor.config.port, secret: hypervisor.config.secret },
    gatewayUrl,
    gatewaySecret,
    attachSecret,
    admin: ADMIN,
  });
  await portal.db.user.create({
    data: {
      email: ALICE.email,
      name: ALICE.name,
      passwordHash: await hashPassword(ALICE.password),
    },
  });
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
  await gateway?.close();
  await hypervisor?.close();
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
