// Prepares the portal: database migrations and seed, and a production Next.js build when the
// sources changed since the last one (a hash of them is kept beside the build).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadDotEnv, REPO_ROOT } from '@raydesk/hypervisor/config';
import { describePortal, portalAddresses } from '../../web/portal-server/addresses.mjs';

const WEB = join(REPO_ROOT, 'web');
const BUILD_STAMP = join(WEB, '.next', 'raydesk-source-hash');
/** Everything the portal bundle is built from. */
const BUILD_INPUTS = [
  'web/src',
  'web/portal-server/gateway-path.mjs',
  'web/public',
  'web/next.config.ts',
  'web/package.json',
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

/** Runs `next build` when the portal's sources changed since the last build (no database work). */
export function buildPortal(): void {
  const hash = sourceHash();
  if (existsSync(BUILD_STAMP) && readFileSync(BUILD_STAMP, 'utf8') === hash) return;
  process.stderr.write('[portal] building the Next.js app (sources changed)\n');
  const started = Date.now();
  run(join(REPO_ROOT, 'node_modules', '.bin', 'next'), ['build'], WEB);
  writeFileSync(BUILD_STAMP, hash);
  process.stderr.write(`[portal] built in ${((Date.now() - started) / 1000).toFixed(0)}s\n`);
}

export interface PortalCommand {
  command: { command: string; args: string[]; cwd: string };
  /** Where this machine checks that the portal answers (plain HTTP on loopback, TLS or not). */
  url: string;
  /** Where people open it, from this machine and from others (web/portal-server/addresses.mjs). */
  openHint: string;
  adminHint: string | null;
}

export async function preparePortal(options: { build?: boolean } = {}): Promise<PortalCommand> {
  loadDotEnv();
  const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  process.stderr.write('[portal] database: migrations and seed\n');
  run(tsx, ['web/scripts/db-setup.ts'], REPO_ROOT);

  if (options.build !== false) buildPortal();
  const port = Number(process.env.PORT || 3000);
  const bind = process.env.PORTAL_BIND || undefined;
  const localHost = bind && bind !== '0.0.0.0' && bind !== '::' ? bind : '127.0.0.1';
  const addresses = portalAddresses({
    port,
    tls: Boolean(process.env.TLS_CERT_FILE),
    bind,
    publicUrl: process.env.PORTAL_PUBLIC_URL || undefined,
  });
  const email = process.env.ADMIN_EMAIL;
  return {
    command: { command: process.execPath, args: ['web/server.mjs'], cwd: REPO_ROOT },
    url: `http://${localHost.includes(':') ? `[${localHost}]` : localHost}:${port}`,
    openHint: describePortal(addresses),
    adminHint: email
      ? `Administrator: ${email}, password in .env (ADMIN_PASSWORD=${process.env.ADMIN_PASSWORD ?? ''})`
      : null,
  };
}
