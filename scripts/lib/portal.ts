// Prepares the portal: database migrations and seed, and a production Next.js build when the
// sources changed since the last one (a hash of them is kept beside the build).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import { ensureClients } from '@raydesk/db/setup';
import { describePortal, portalAddresses } from '@raydesk/web/addresses';

const setupResultSchema = z.object({ adminCreated: z.string().nullable() });

const WEB = join(REPO_ROOT, 'web');
const BUILD_STAMP = join(WEB, '.next', 'raydesk-source-hash');
/** Everything the portal bundle is built from. */
const BUILD_INPUTS = [
  'web/src',
  'web/portal-server/gateway-path.mjs',
  'web/public',
  'web/next.config.ts',
  'web/package.json',
  'common/src',
  'web/viewer/src',
  'web/viewer/package.json',
  'common/package.json',
  'package-lock.json',
  'gateway/src/protocol',
  'gateway/src/auth',
  'hypervisor/src/api',
  'prisma/schema.prisma',
  'prisma/postgres/schema.prisma',
  'prisma/client.ts',
  'prisma/adapters.ts',
  'prisma/db-url.ts',
];

function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (!entry.endsWith('.test.ts')) hashTree(hash, join(path, entry));
    }
  } else {
    hash.update(relative(REPO_ROOT, path));
    hash.update(readFileSync(path));
  }
}

function sourceHash(): string {
  const hash = createHash('sha256');
  for (const input of BUILD_INPUTS) hashTree(hash, join(REPO_ROOT, input));
  return hash.digest('hex');
}

function run(command: string, args: string[], cwd: string): void {
  execFileSync(command, args, { cwd, stdio: 'inherit', env: process.env });
}

/**
 * Runs `next build` when the portal's sources changed since the last build (no database work).
 * The Prisma clients it compiles against are generated first if missing or stale: `npm run
 * bench` may be the first command after a pull that changed the schema.
 */
export function buildPortal(): void {
  ensureClients();
  // Generated from the viewer's sources into web/public, before the hash that covers both.
  run(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/build-early-attach.ts'], WEB);
  const hash = sourceHash();
  if (existsSync(BUILD_STAMP) && readFileSync(BUILD_STAMP, 'utf8') === hash) return;
  process.stderr.write('[portal] building the Next.js app (sources changed)\n');
  const started = Date.now();
  run(join(REPO_ROOT, 'node_modules', '.bin', 'next'), ['build'], WEB);
  writeFileSync(BUILD_STAMP, hash);
  process.stderr.write(`[portal] built in ${((Date.now() - started) / 1000).toFixed(0)}s\n`);
}

/** What `npm start` tells people once the portal it prepared is up. */
export interface PreparedPortal {
  /** Where people open it, from this machine and from others (web/portal-server/addresses.mjs). */
  openHint: string;
  adminHint: string | null;
}

/**
 * What `npm start` says about the administrator once Raydesk is up. The password appears once:
 * on the start that created the account, and only when the output is a terminal (never in a
 * log file or a pipe). Every later start says where to find it and how to set it again.
 */
export function adminHint(
  email: string | undefined,
  password: string | undefined,
  created: boolean,
  terminal: boolean,
): string | null {
  if (!email) return null;
  const reset =
    'to set it again, change ADMIN_PASSWORD in .env and run `npx tsx web/scripts/db-setup.ts --reset-admin-password`';
  if (created && terminal && password) {
    return (
      `Administrator created: ${email}, password: ${password}\n` +
      `  (shown this once; it is also ADMIN_PASSWORD in .env, which only you can read)`
    );
  }
  if (created) {
    return `Administrator created: ${email}; its password is ADMIN_PASSWORD in .env (not printed: this output is not a terminal)`;
  }
  return `Administrator: ${email}; its first password is ADMIN_PASSWORD in .env; ${reset}`;
}

export async function preparePortal(options: { build?: boolean } = {}): Promise<PreparedPortal> {
  loadRootEnv();
  const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  process.stderr.write('[portal] database: migrations and seed\n');
  // Its logs go to stderr; stdout carries one JSON line: did this run create the admin?
  const result = execFileSync(tsx, ['web/scripts/db-setup.ts', '--json'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
    encoding: 'utf8',
  });
  const setup = setupResultSchema.parse(JSON.parse(result.trim().split('\n').pop() ?? '{}'));

  if (options.build !== false) buildPortal();
  const addresses = portalAddresses({
    port: Number(process.env.PORT || 3000),
    tls: Boolean(process.env.TLS_CERT_FILE),
    bind: process.env.PORTAL_BIND || undefined,
    publicUrl: process.env.PORTAL_PUBLIC_URL || undefined,
  });
  return {
    openHint: describePortal(addresses),
    adminHint: adminHint(
      process.env.ADMIN_EMAIL,
      process.env.ADMIN_PASSWORD,
      setup.adminCreated !== null,
      Boolean(process.stdout.isTTY),
    ),
  };
}
