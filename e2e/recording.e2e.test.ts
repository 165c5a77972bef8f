// Session recording end to end: a real hypervisor and desktop VM, a real gateway recording the
// session a Chromium viewer watches (its token's policy says `recording`), and the portal's
// admin player in Chromium (reached as vdi.example.test). At moments of the live session the
// live canvas is kept; the player, seeked to the same moments, shows the same pixels (within
// JPEG tolerance). Playing at 4x reaches the end; playing, exporting and deleting are audited;
// a user who is not an administrator is refused.
//   npx tsx --test e2e/recording.e2e.test.ts   (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCanvas, Image } from 'canvas';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import { DEFAULT_SESSION_POLICY } from '@raydesk/gateway/protocol';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { bundleViewer, servePage, type TestPageServer } from '@raydesk/viewer/testing';
import {
  hashPassword,
  PORTAL_BUILD_ID,
  PORTAL_HOST_RESOLVER_RULE,
  type PortalServer,
} from '@raydesk/web/testing';
import { startDesktopStack, type DesktopStack } from './lib/desktop-stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const ADMIN = { email: 'admin@rec.test', password: 'admin-password-rec' };
const ALICE = { email: 'alice@rec.test', password: 'alice-password-rec', name: 'Alice Recorded' };
const LIVE_CANVAS = 'canvas[aria-label="Remote desktop"]';
const PLAYER_CANVAS = 'canvas[aria-label="Recorded screen"]';

if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

let stack: DesktopStack;
let portal: PortalServer;
let browser: Browser;
let page: TestPageServer;
let recordingDir: string;
let aliceId: string;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  recordingDir = mkdtempSync(join(tmpdir(), 'raydesk-e2e-rec-'));
  stack = await startDesktopStack('rec', ADMIN, {
    recording: {
      dir: recordingDir,
      retentionDays: 0,
      maxTotalBytes: 0,
      keyframeMs: 4_000,
      input: true,
    },
  });
  ({ portal } = stack);
  aliceId = (
    await portal.db.user.create({
      data: {
        email: ALICE.email,
        name: ALICE.name,
        passwordHash: await hashPassword(ALICE.password),
      },
    })
  ).id;
  const client = new HypervisorClient({
    url: stack.hypervisor.url,
    secret: stack.hypervisor.config.secret,
    timeoutMs: 600_000,
  });
  await client.connected();
  const vm = await client.create({ appliance: 'desktop', name: 'e2e-recording' });
  client.close();
  // The live viewer: the harness page against the gateway, its tokens carrying the policy.
  page = await servePage({
    gatewayUrl: stack.gatewayUrl,
    vm: vm.id,
    attachSecret: stack.attachSecret,
    bundle: await bundleViewer(),
    grant: {
      sub: aliceId,
      name: ALICE.name,
      policy: { ...DEFAULT_SESSION_POLICY, recording: true },
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

/** The admin page's player (web/src/app/admin/(console)/recordings/[id]/PlayerClient.tsx). */
type PlayerWindow = { raydeskPlayer?: { seek(t: number): Promise<void>; state: string } };

after(async () => {
  await browser?.close();
  await page?.close();
  await stack?.close();
  if (recordingDir) rmSync(recordingDir, { recursive: true, force: true });
});

async function signIn(p: Page, who: { email: string; password: string }): Promise<void> {
  await p.goto('/login');
  await p.getByLabel('Email').fill(who.email);
  await p.getByLabel('Password').fill(who.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL((url) => url.pathname === '/', { timeout: 20_000 });
}

/** The canvas as PNG bytes (lossless), from inside the page. */
async function canvasPng(p: Page, selector: string): Promise<Buffer> {
  const url = await p.evaluate(
    (s) => (document.querySelector(s) as HTMLCanvasElement).toDataURL('image/png'),
    selector,
  );
  return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
}

function rgba(png: Buffer): { width: number; height: number; data: Uint8ClampedArray } {
  const image = new Image();
  image.src = png;
  const canvas = createCanvas(image.width, image.height);
  canvas.getContext('2d').drawImage(image, 0, 0);
  return {
    width: image.width,
    height: image.height,
    data: canvas.getContext('2d').getImageData(0, 0, image.width, image.height).data,
  };
}

/** Mean absolute channel difference, and the share of pixels off by more than 32 in a channel. */
function compare(a: Buffer, b: Buffer): { mean: number; off: number; size: string } {
  const x = rgba(a);
  const y = rgba(b);
  assert.equal(`${x.width}x${x.height}`, `${y.width}x${y.height}`, 'same screen size');
  let sum = 0;
  let off = 0;
  for (let i = 0; i < x.data.length; i += 4) {
    let worst = 0;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(x.data[i + c]! - y.data[i + c]!);
      sum += d;
      worst = Math.max(worst, d);
    }
    if (worst > 32) off++;
  }
  const pixels = x.data.length / 4;
  return { mean: sum / (pixels * 3), off: off / pixels, size: `${x.width}x${x.height}` };
}

/** Waits until the live viewer painted nothing for `quietMs`. */
async function settle(p: Page, quietMs = 2_500): Promise<void> {
  let count = -1;
  let since = Date.now();
  await waitFor(
    'the live screen to settle',
    async () => {
      const n = await p.evaluate(
        () => (window as unknown as { __paints: unknown[] }).__paints.length,
      );
      if (n !== count) {
        count = n;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    60_000,
  );
}

interface Moment {
  /** Wall time (this process's clock, as the gateway's) when the live canvas was kept. */
  at: number;
  png: Buffer;
}

test(
  'a recorded session plays back in the admin player with the live pixels; seek, 4x, audit, refusal',
  { timeout: 600_000 },
  async () => {
    // ---- Live: the user at the desktop, told that the session is recorded -------------------
    const live = await (
      await browser.newContext({ viewport: { width: 1100, height: 860 } })
    ).newPage();
    await live.goto(`${page.url}/?follow=off`);
    await live.waitForFunction(
      () => (window as unknown as { __viewer: { state: string } }).__viewer.state === 'connected',
      undefined,
      { timeout: 60_000 },
    );
    await live.locator('.rd-rec').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match((await live.locator('.rd-rec').textContent()) ?? '', /Recorded/);
    const recordingId = await live.evaluate(
      () => (window as unknown as { __viewer: { sessionId: string } }).__viewer.sessionId,
    );
    await settle(live);
    await live.screenshot({ path: join(SHOTS, 'recording-live-viewer.png') });

    const moments: Moment[] = [];
    const keep = async () => {
      await settle(live);
      moments.push({ at: Date.now(), png: await canvasPng(live, LIVE_CANVAS) });
    };
    await keep();
    await live.locator(LIVE_CANVAS).click({ position: { x: 300, y: 300 } });
    for (const line of ['echo recorded one', 'ls /', 'echo the third moment']) {
      await live.keyboard.type(line, { delay: 60 });
      await live.keyboard.press('Enter');
      await keep();
    }
    // Something after the last moment, so the end is not the last moment.
    await live.keyboard.type('clear', { delay: 60 });
    await live.keyboard.press('Enter');
    await settle(live);
    const endPng = await canvasPng(live, LIVE_CANVAS);
    await live.close();

    // The gateway closed the recording and told the portal.
    const row = await waitFor(
      'the ended recording in the portal',
      async () => {
        const r = await portal.db.recording.findUnique({ where: { id: recordingId } });
        return r?.endedAt ? r : null;
      },
      20_000,
    );
    assert.equal(row.userId, aliceId);
    assert.equal(row.userEmail, ALICE.email);
    assert.ok(row.durationMs > 5_000, `length ${row.durationMs} ms`);
    assert.equal(
      Number(row.sizeBytes),
      readFileSync(join(recordingDir, `${recordingId}.rdrec`)).byteLength,
    );
    const startedAt = row.startedAt.getTime();

    // ---- A user cannot reach recordings -------------------------------------------------------
    const aliceContext = await browser.newContext({ baseURL: portal.url });
    const alice = await aliceContext.newPage();
    await signIn(alice, ALICE);
    for (const path of [
      '/api/admin/recordings',
      `/api/admin/recordings/${recordingId}/index`,
      `/api/admin/recordings/${recordingId}/bytes?from=0&to=100`,
      `/api/admin/recordings/${recordingId}/download`,
    ]) {
      const status = await alice.evaluate(async (p) => (await fetch(p)).status, path);
      assert.equal(status, 403, path);
    }
    const deleteStatus = await alice.evaluate(
      async (p) => (await fetch(p, { method: 'DELETE' })).status,
      `/api/admin/recordings/${recordingId}`,
    );
    assert.equal(deleteStatus, 403);
    // The admin pages answer 403 with the "for administrators" page.
    const refused = await alice.goto('/admin/recordings');
    assert.equal(refused?.status(), 403);
    await alice.getByText('This area is for administrators').waitFor({ timeout: 10_000 });
    await aliceContext.close();

    // ---- The admin's Recordings page and player ------------------------------------------------
    const adminContext = await browser.newContext({
      baseURL: portal.url,
      viewport: { width: 1400, height: 1100 },
    });
    const admin = await adminContext.newPage();
    await signIn(admin, ADMIN);
    await admin.goto('/admin/recordings');
    const listed = admin.locator(`tr[data-recording="${recordingId}"]`);
    await listed.waitFor({ timeout: 15_000 });
    assert.match((await listed.textContent()) ?? '', /Alice Recorded/);
    await admin.screenshot({ path: join(SHOTS, 'recording-list.png'), fullPage: true });
    await listed.getByRole('link', { name: 'Play' }).click();
    await admin.waitForURL((url) => url.pathname === `/admin/recordings/${recordingId}`);
    await admin.waitForFunction(
      () => !!(window as unknown as PlayerWindow).raydeskPlayer,
      undefined,
      { timeout: 20_000 },
    );

    const seekTo = async (t: number) =>
      admin.evaluate(async (target) => {
        const started = performance.now();
        await (window as unknown as PlayerWindow).raydeskPlayer!.seek(target);
        return performance.now() - started;
      }, t);
    // Out of order on purpose: the last moment, the first, one in the middle.
    const order = [moments.length - 1, 0, 2, 1];
    for (const i of order) {
      const m = moments[i]!;
      // The live screen had not changed for 2.5 s before the moment was kept.
      const t = m.at - startedAt - 1_000;
      const ms = await seekTo(t);
      const diff = compare(m.png, await canvasPng(admin, PLAYER_CANVAS));
      assert.ok(
        diff.mean < 2 && diff.off < 0.01,
        `moment ${i} at ${t} ms: mean ${diff.mean.toFixed(3)}, off ${(diff.off * 100).toFixed(2)}% (${diff.size}); seek ${ms.toFixed(0)} ms`,
      );
    }
    // The moments differ from each other (the comparison can tell screens apart).
    const apart = compare(moments[0]!.png, moments.at(-1)!.png);
    assert.ok(
      apart.off > 0.001,
      `moments 0 and last differ (${(apart.off * 100).toFixed(3)}% off)`,
    );
    await seekTo(moments[2]!.at - startedAt - 1_000);
    await admin.screenshot({ path: join(SHOTS, 'recording-player.png'), fullPage: true });

    // Playing at 4x from a little before the end reaches the end, showing the last screen.
    await seekTo(Math.max(0, row.durationMs - 8_000));
    await admin.getByRole('button', { name: '4x' }).click();
    await admin.getByRole('button', { name: 'Play' }).click();
    await admin.waitForFunction(
      () => (window as unknown as PlayerWindow).raydeskPlayer!.state === 'ended',
      undefined,
      { timeout: 30_000 },
    );
    const atEnd = compare(endPng, await canvasPng(admin, PLAYER_CANVAS));
    assert.ok(
      atEnd.mean < 2 && atEnd.off < 0.01,
      `end: mean ${atEnd.mean.toFixed(3)}, off ${(atEnd.off * 100).toFixed(2)}%`,
    );

    // ---- Export, delete; all audited ------------------------------------------------------------
    const download = await admin.evaluate(async (p) => {
      const res = await fetch(p);
      return {
        status: res.status,
        bytes: (await res.arrayBuffer()).byteLength,
        disposition: res.headers.get('content-disposition'),
      };
    }, `/api/admin/recordings/${recordingId}/download`);
    assert.equal(download.status, 200);
    assert.equal(download.bytes, Number(row.sizeBytes));
    assert.match(download.disposition ?? '', /attachment/);
    const removed = await admin.evaluate(
      async (p) => (await fetch(p, { method: 'DELETE' })).status,
      `/api/admin/recordings/${recordingId}`,
    );
    assert.equal(removed, 200);
    assert.equal(existsSync(join(recordingDir, `${recordingId}.rdrec`)), false);
    assert.equal(await portal.db.recording.count({ where: { id: recordingId } }), 0);
    const audited = await portal.db.auditEvent.findMany({
      where: { targetId: recordingId },
      orderBy: { at: 'asc' },
    });
    const actions = new Set(audited.map((e) => e.action));
    for (const action of ['recording.play', 'recording.export', 'recording.delete'])
      assert.ok(actions.has(action), `${action} audited (${[...actions].join(', ')})`);
    assert.ok(audited.every((e) => e.actorEmail === ADMIN.email));
    await adminContext.close();
  },
);
