/// <reference lib="dom" />
// The portal serving HTTPS itself (TLS_CERT_FILE, TLS_KEY_FILE) with a self-signed certificate
// made for the test, reached in real Chromium as https://vdi.example.test:<port> (127.0.0.2):
// Secure cookies, HSTS, and the viewer's socket.io over wss through the portal. The processes of
// this machine keep plain HTTP on 127.0.0.1 (the gateway's session events still arrive).
//
//   npx tsx --test e2e/tls.e2e.test.ts        (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import {
  freePort,
  PORTAL_BUILD_ID,
  PORTAL_HOST_NAME,
  PORTAL_HOST_RESOLVER_RULE,
  startPortalServer,
  type PortalServer,
  selfSignedCertificate,
  type SelfSignedCertificate,
  GATEWAY_SOCKET_PATH,
  hashPassword,
} from '@raydesk/web/testing';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { email: 'admin@tls.test', password: 'admin-password-tls' };
const ERIN = { email: 'erin@tls.test', password: 'erin-password-tls' };

if (!existsSync(PORTAL_BUILD_ID))
  throw new Error('the portal is not built: run `npm run build -w web` first');

/** Plain HTTP to the portal's port at `address`, as a local process (or another computer) would. */
function plain(
  address: string,
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address, port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the portal over HTTPS', () => {
  let cert: SelfSignedCertificate;
  let hypervisor: RunningHypervisor | null = null;
  let gateway: Gateway | null = null;
  let portal: PortalServer | null = null;
  let browser: Browser | null = null;

  before(async () => {
    loadRootEnv();
    cert = selfSignedCertificate(PORTAL_HOST_NAME);
    const port = await freePort();
    const gatewaySecret = `tls-gateway-secret-${Date.now()}`;
    const attachSecret = `tls-attach-secret-0123456789abcdef-${Date.now()}`;
    hypervisor = await startEphemeralHypervisor();
    gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: gatewaySecret,
        attachTokenSecret: attachSecret,
        hypervisorUrl: hypervisor.url,
        hypervisorSecret: hypervisor.config.secret,
        // Plain HTTP on loopback, as in .env: the portal keeps serving it there.
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
      tls: cert,
      // A text console boots fast; what matters here is the wss path, not the desktop.
      env: { PORTAL_DESKTOP_APPLIANCE: 'console' },
    });
    await portal.db.user.create({
      data: {
        email: ERIN.email,
        name: 'Erin',
        passwordHash: await hashPassword(ERIN.password),
        maxVms: 2,
        maxMemoryMiB: 2048,
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
    if (process.env.E2E_VERBOSE) console.log(portal?.log());
    await portal?.close();
    await gateway?.close();
    await hypervisor?.close();
    cert?.remove();
  });

  test('only one of TLS_CERT_FILE and TLS_KEY_FILE: the portal refuses to start and says why', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'web', 'server.mjs')], {
      cwd: join(REPO_ROOT, 'web'),
      env: { ...process.env, PORT: '0', TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(output, /TLS_CERT_FILE is set but TLS_KEY_FILE is not/);
  });

  test('HTTPS answers with HSTS and the CSP; plain HTTP is for this machine only', async () => {
    const login = await portal!.request('/login');
    assert.equal(login.status, 200);
    assert.equal(login.headers['strict-transport-security'], 'max-age=31536000');
    assert.match(String(login.headers['content-security-policy']), /script-src 'self' 'nonce-/);
    // A browser that typed http:// from another computer is sent to HTTPS on the same name.
    const host = `${PORTAL_HOST_NAME}:${portal!.port}`;
    const upgrade = await plain('127.0.0.2', portal!.port, '/login?next=%2F', {
      headers: { host },
    });
    assert.equal(upgrade.status, 308);
    assert.equal(upgrade.headers.location, `https://${host}/login?next=%2F`);
    // Local processes (the gateway's events, npm start's readiness check) keep plain HTTP.
    const local = await plain('127.0.0.1', portal!.port, '/api/health');
    assert.equal(local.status, 200);
    assert.equal(local.headers['strict-transport-security'], undefined);
  });

  test('a client cannot claim HTTPS over plain HTTP: its cookies stay non-Secure there', async () => {
    const res = await plain('127.0.0.1', portal!.port, '/api/auth/login', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: `http://127.0.0.1:${portal!.port}`,
        host: `127.0.0.1:${portal!.port}`,
        'x-forwarded-proto': 'https',
      },
      body: JSON.stringify(ERIN),
    });
    assert.equal(res.status, 200);
    const cookies = [res.headers['set-cookie'] ?? []].flat();
    assert.ok(cookies.length >= 2);
    for (const cookie of cookies) assert.doesNotMatch(cookie, /;\s*secure/i, cookie);
  });

  test(
    'in Chromium: Secure cookies, and the desktop over wss through the portal',
    { timeout: 300_000 },
    async () => {
      const ctx = await browser!.newContext({
        baseURL: portal!.url,
        ignoreHTTPSErrors: true,
        viewport: { width: 1280, height: 800 },
      });
      const violations: string[] = [];
      const sockets: string[] = [];
      const offHost: string[] = [];
      ctx.on('page', (page: Page) => {
        page.on('websocket', (socket) => sockets.push(socket.url()));
        page.on('console', (m) => {
          if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
        });
        page.on('framenavigated', (frame) => {
          if (!frame.url().startsWith(portal!.url) && frame.url() !== 'about:blank')
            offHost.push(frame.url());
        });
      });
      const page = await ctx.newPage();
      await page.goto('/');
      assert.equal(new URL(page.url()).pathname, '/login');
      await page.getByLabel('Email').fill(ERIN.email);
      await page.getByLabel('Password').fill(ERIN.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/', { timeout: 20_000 });
      const cookies = await ctx.cookies();
      for (const name of ['rd_access', 'rd_refresh']) {
        const cookie = cookies.find((c) => c.name === name);
        assert.ok(cookie?.secure, `${name} is Secure over HTTPS`);
        assert.ok(cookie?.httpOnly, `${name} is HttpOnly`);
      }
      const before = await portal!.db.endpointConnection.count();
      await page.getByRole('button', { name: /Open desktop/ }).click();
      await page.waitForURL(/\/desktop\//, { timeout: 180_000 });
      await page.waitForFunction(
        () => {
          const canvas = document.querySelector(
            'canvas[aria-label="Remote desktop"]',
          ) as HTMLCanvasElement | null;
          const ctx2d = canvas?.getContext('2d');
          if (!canvas || !ctx2d || canvas.width < 16) return false;
          const { data } = ctx2d.getImageData(0, 0, canvas.width, canvas.height);
          const colours = new Set<number>();
          for (let i = 0; i < data.length; i += 4 * 97)
            colours.add(data[i]! * 65536 + data[i + 1]! * 256 + data[i + 2]!);
          return colours.size >= 2;
        },
        undefined,
        { timeout: 180_000, polling: 500 },
      );
      assert.ok(sockets.length > 0, 'the viewer opened a WebSocket');
      for (const url of sockets)
        assert.ok(
          url.startsWith(`wss://${PORTAL_HOST_NAME}:${portal!.port}${GATEWAY_SOCKET_PATH}/`),
          url,
        );
      // The gateway told the portal about the session, over plain HTTP on 127.0.0.1.
      const deadline = Date.now() + 15_000;
      while ((await portal!.db.endpointConnection.count()) <= before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
      assert.ok((await portal!.db.endpointConnection.count()) > before, 'session event recorded');
      assert.deepEqual(violations, []);
      assert.deepEqual(offHost, []);
      await ctx.close();
    },
  );
});
