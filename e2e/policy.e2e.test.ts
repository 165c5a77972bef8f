/// <reference lib="dom" />
// Group policies as an organisation uses them, in Chromium at vdi.example.test (127.0.0.2): an
// admin makes a group in the console, adds a member and sets its policy (no clipboard either
// way, uploads up to 1 MiB, the desktop appliance only; a bad policy is refused in plain
// words). The member may not start a disposable browser; their desktop's viewer shows the
// clipboard turned off with the reason, and a modified page that sends to the desktop's
// clipboard anyway is refused by the gateway. Real hypervisor, gateway and portal build.
//   npx tsx --test e2e/policy.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import { PORTAL_BUILD_ID, type PortalServer } from '@raydesk/web/testing';
import {
  addPasswordUser,
  launchUserBrowser,
  startDesktopStack,
  type DesktopStack,
} from './lib/desktop-stack.ts';

const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@policy.test', password: 'admin-password-policy' };
const BOB = { email: 'bob@policy.test', password: 'bob-password-policy', name: 'Bob Contractor' };
const PASTED = 'pasted against the policy';

if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

let stack: DesktopStack;
let portal: PortalServer;
let browser: Browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  stack = await startDesktopStack('policy', ADMIN);
  ({ portal } = stack);
  await addPasswordUser(portal, BOB);
  browser = await launchUserBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', { timeout: 30_000 });
}

test('an admin sets a group policy; the member is held to it', { timeout: 900_000 }, async () => {
  const adminCtx = await browser.newContext({
    viewport: { width: 1360, height: 1100 },
    baseURL: portal.url,
  });
  const admin = await adminCtx.newPage();
  await signIn(admin, ADMIN);
  await admin.goto('/admin/groups');
  await admin.getByLabel('Name').fill('Contractors');
  await admin.getByRole('button', { name: 'Create group' }).click();
  const card = admin.getByRole('region', { name: 'Group Contractors' });
  await card.waitFor({ timeout: 20_000 });
  await card.getByLabel('Add a member to Contractors').fill(BOB.email);
  await card.getByRole('button', { name: 'Add' }).click();
  await card.getByText(BOB.email).waitFor({ timeout: 20_000 });

  await card.locator('summary', { hasText: 'Policy' }).click();
  const form = card.getByRole('form', { name: 'Policy of Contractors' });
  await form.getByLabel('Paste into the desktop').uncheck();
  await form.getByLabel('Copy from the desktop').uncheck();
  await form.getByLabel('at most (MiB)').first().fill('1');
  await form.getByLabel('Any appliance').uncheck();
  // No appliance ticked: refused with a plain message before anything is sent.
  await form.getByRole('button', { name: 'Save policy' }).click();
  await form.getByRole('alert').getByText('Choose at least one appliance, or allow any.').waitFor();
  await form.getByLabel('Desktop', { exact: true }).check();
  await form.getByRole('button', { name: 'Save policy' }).click();
  await admin.getByText('Policy of Contractors saved.').waitFor({ timeout: 20_000 });
  await card.getByText('clipboard', { exact: false }).first().waitFor({ timeout: 20_000 });
  await admin.screenshot({ path: join(SHOTS, 'admin-group-policy.png'), fullPage: true });

  const group = await portal.db.group.findUniqueOrThrow({ where: { name: 'Contractors' } });
  assert.equal(group.clipboardToVm, false);
  assert.equal(group.clipboardFromVm, false);
  assert.equal(group.uploadMaxBytes, 2 ** 20);
  assert.equal(group.allowedAppliances, 'desktop');

  // The API checks the body itself, whatever the form does.
  const bad = await admin.evaluate(async (id) => {
    const r = await fetch(`/api/admin/groups/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ policy: { clipboardToVm: 'no' } }),
    });
    return { status: r.status, body: (await r.json()) as { error?: { message?: string } } };
  }, group.id);
  assert.equal(bad.status, 400);
  await adminCtx.close();

  const bobCtx = await browser.newContext({
    viewport: { width: 1360, height: 860 },
    baseURL: portal.url,
  });
  const bob = await bobCtx.newPage();
  await signIn(bob, BOB);
  const browserVm = await bob.evaluate(async () => {
    const r = await fetch('/api/vms/disposable', { method: 'POST' });
    return { status: r.status, text: await r.text() };
  });
  assert.equal(browserVm.status, 403);
  assert.match(browserVm.text, /does not allow starting Disposable browser/);
  assert.equal(await portal.db.vm.count(), 0, 'no VM was made');

  await bob.getByRole('button', { name: /Open desktop/ }).click();
  await bob.waitForURL(/\/desktop\//, { timeout: 240_000 });
  const note = bob.locator('[aria-label="Clipboard"] .rd-policy-note');
  await waitFor(
    'the viewer to know its policy',
    async () => ((await note.textContent()) ?? '').length > 0,
    240_000,
    500,
  );
  await bob.getByRole('button', { name: 'Clipboard' }).click();
  assert.equal(
    await note.textContent(),
    'Pasting into the desktop is turned off by your group policy. Copying from the desktop is turned off by your group policy.',
  );
  const send = bob.getByRole('button', { name: 'Send to desktop' });
  assert.equal(await send.isHidden(), true, 'no button for a direction that is off');
  await bob.screenshot({ path: join(SHOTS, 'viewer-clipboard-policy.png') });

  // A modified page: the hidden button shown again and used. The gateway refuses it.
  await bob.evaluate((text) => {
    const panel = document.querySelector('[aria-label="Clipboard"]')!;
    panel.querySelector('textarea')!.value = text;
    const button = Array.from(panel.querySelectorAll('button')).find(
      (b) => b.textContent === 'Send to desktop',
    )!;
    button.hidden = false;
    button.click();
  }, PASTED);
  const hint = bob.locator('[aria-label="Clipboard"] .rd-row .rd-hint');
  await waitFor(
    'the refusal',
    async () => /not allowed/.test((await hint.textContent()) ?? ''),
    30_000,
    250,
  );
  assert.equal(await hint.textContent(), 'Pasting into the desktop is not allowed for you.');

  // The desktop's clipboard never got the text (asked of the guest agent when it answers).
  const vm = await portal.db.vm.findFirstOrThrow({ where: { kind: 'personal' } });
  const hv = new HypervisorClient({
    url: stack.hypervisor.url,
    secret: stack.hypervisor.config.secret,
    timeoutMs: 60_000,
  });
  try {
    await hv.connected();
    const guestText = await hv.call('clipboard:get', { id: vm.domainId! }).catch(() => null);
    assert.notEqual(guestText, PASTED);
  } finally {
    hv.close();
  }
  await bobCtx.close();
});
