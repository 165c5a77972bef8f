/// <reference lib="dom" />
// A whole fleet started for a test or a benchmark (e2e/fleet.e2e.test.ts, bench/fleet.ts): a
// throwaway PostgreSQL and Redis (fleet-services.ts), the migrations and seed on that PostgreSQL
// with an administrator and the given users, the parts `npm run fleet` runs (fleetParts: two
// hosts, two gateways, the portal's production build) under a ProcessGroup, every part up, and
// headless Chromium reaching the portal by a host name that maps to 127.0.0.2.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createDb, type Db } from '@raydesk/db';
import { freePort } from '@raydesk/db/cluster';
import {
  hashPassword,
  PORTAL_BUILD_ID,
  PORTAL_HOST_NAME,
  PORTAL_HOST_RESOLVER_RULE,
  setupDatabase,
} from '@raydesk/web/testing';
import { fleetParts, type FleetLayout } from './fleet.ts';
import { startFleetServices, type FleetServices } from './fleet-services.ts';
import { ProcessGroup } from './processes.ts';
import type { RestartPolicyOptions } from './restart-policy.ts';
import { waitFor } from '@raydesk/common/testing';

export { waitFor };

export const CHROMIUM = '/usr/bin/chromium';

export interface Credentials {
  email: string;
  password: string;
}

export interface FleetHarnessOptions {
  /** Becomes the folder name prefix under the system temp folder. */
  label: string;
  admin: Credentials;
  /** Portal users created with role user. */
  users?: readonly Credentials[];
  /** Settings over the harness's defaults (e.g. PORTAL_DESKTOP_APPLIANCE). */
  env?: NodeJS.ProcessEnv;
  /** Restart backoff per part name (e.g. to hold a killed part down). */
  restart?: (part: string) => Partial<RestartPolicyOptions> | undefined;
  startTimeoutMs?: number;
  /** Each output line of each part (default: kept in memory only, see logs()). */
  output?: (part: string, line: string) => void;
  log?: (line: string) => void;
}

export interface FleetHarness {
  services: FleetServices;
  layout: FleetLayout;
  /** The registry: hosts, gateways, VMs. */
  db: Db;
  group: ProcessGroup;
  /** Part names in start order (hosts, gateways, portal). */
  parts: string[];
  /** http://vdi.example.test:<port>: the one origin browsers use. */
  portalUrl: string;
  browser: Browser;
  /** ms from the call until every part answered its health URL. */
  startedInMs: number;
  /** A new browser context signed in as `user`, on the portal. */
  signedIn(user: Credentials): Promise<Page>;
  /** The last output lines of a part. */
  logs(part: string): string[];
  stop(): Promise<void>;
}

/** Same-origin API call from inside the page (its cookies and Origin). */
export async function pageApi<T = Record<string, unknown>>(
  page: Page,
  path: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return page.evaluate(
    async ({ path, method, body }) => {
      const res = await fetch(path, {
        method,
        headers: body !== undefined ? { 'content-type': 'application/json' } : undefined,
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let parsed: unknown = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { text: text.slice(0, 200) };
      }
      return { status: res.status, body: parsed as T };
    },
    { path, method, body },
  );
}

/** Why the harness cannot start here, or null. */
export function fleetHarnessMissing(): string | null {
  if (!existsSync(CHROMIUM))
    return `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
  if (!existsSync(PORTAL_BUILD_ID))
    return 'the portal is not built: run `npm run build -w web` first';
  return null;
}

export async function startFleetHarness(options: FleetHarnessOptions): Promise<FleetHarness> {
  const missing = fleetHarnessMissing();
  if (missing) throw new Error(missing);
  const startedAt = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `raydesk-${options.label}-`));
  const partLogs = new Map<string, string[]>();
  const group = new ProcessGroup({
    handleSignals: false,
    output: (name, line) => {
      const lines = partLogs.get(name) ?? [];
      lines.push(line);
      if (lines.length > 1000) lines.splice(0, lines.length - 1000);
      partLogs.set(name, lines);
      options.output?.(name, line);
    },
    log: options.log ?? (() => undefined),
  });
  let services: FleetServices | undefined;
  let db: Db | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const stop = async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await group.stop(0);
    await db?.$disconnect();
    await services?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    services = await startFleetServices({
      dir: join(dir, 'services'),
      postgresPort: await freePort(),
      redisPort: await freePort(),
      keep: false,
    });
    const layout: FleetLayout = {
      databaseUrl: services.databaseUrl,
      redisUrl: services.redisUrl,
      dataDir: join(dir, 'hosts'),
      hypervisorPorts: [await freePort(), await freePort()],
      gatewayPorts: [await freePort(), await freePort()],
      portalPort: await freePort(),
    };
    const stamp = Date.now();
    // Every setting explicit: the parts also read the repository's .env for anything unset.
    const env: NodeJS.ProcessEnv = {
      HYPERVISOR_SECRET: `fleet-hypervisor-${stamp}`,
      GATEWAY_SECRET: `fleet-gateway-secret-${stamp}`,
      ATTACH_TOKEN_SECRET: `fleet-attach-secret-0123456789abcdef-${stamp}`,
      SESSION_SECRET: `fleet-session-secret-${stamp}-0123456789abcdef`,
      HOST_MEMORY_BUDGET_MIB: '1024',
      STANDBY_APPLIANCES: '',
      IDLE_SUSPEND_SECONDS: '0',
      FLEET_HEARTBEAT_SECONDS: '1',
      GATEWAY_ALLOWED_ORIGINS: '',
      PORTAL_BIND: '',
      PORTAL_PUBLIC_URL: '',
      TRUST_PROXY: '',
      TLS_CERT_FILE: '',
      TLS_KEY_FILE: '',
      ADMIN_EMAIL: options.admin.email,
      ADMIN_PASSWORD: options.admin.password,
      PORTAL_DESKTOP_APPLIANCE: 'console',
      LOG_LEVEL: 'info',
      ...options.env,
      DATABASE_URL: services.databaseUrl,
      FLEET: 'on',
    };
    await setupDatabase(env);
    db = createDb(services.databaseUrl);
    for (const user of options.users ?? []) {
      await db.user.create({
        data: {
          email: user.email,
          name: user.email.split('@')[0]!,
          role: 'user',
          passwordHash: await hashPassword(user.password),
        },
      });
    }
    const parts = fleetParts({ ...process.env, ...env }, layout).map((part) => {
      const restart = options.restart?.(part.name);
      return restart ? { ...part, restart } : part;
    });
    for (const part of parts) group.start(part);
    const startTimeoutMs = options.startTimeoutMs ?? 180_000;
    let startTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(parts.map((part) => group.whenUp(part.name))),
      new Promise((_, reject) => {
        startTimer = setTimeout(
          () => reject(new Error(`the fleet did not come up within ${startTimeoutMs / 1000} s`)),
          startTimeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(startTimer));
    const startedInMs = Date.now() - startedAt;
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
    const portalUrl = `http://${PORTAL_HOST_NAME}:${layout.portalPort}`;
    const openBrowser = browser;
    return {
      services,
      layout,
      db,
      group,
      parts: parts.map((part) => part.name),
      portalUrl,
      browser,
      startedInMs,
      async signedIn(user) {
        const context = await openBrowser.newContext({
          viewport: { width: 1024, height: 768 },
          baseURL: portalUrl,
        });
        contexts.push(context);
        const page = await context.newPage();
        await page.goto('/login');
        const login = await pageApi(page, '/api/auth/login', 'POST', user);
        assert.equal(login.status, 200, JSON.stringify(login.body));
        return page;
      },
      logs: (part) => partLogs.get(part) ?? [],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
