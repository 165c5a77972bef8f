import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import type { NextConfig } from 'next';

// web/ is the Next root, so Next only sees web/.env*. Raydesk keeps one .env at the repository
// root: load it here (variables already in the environment win). Server code reads its settings
// at run time from process.env (web/src/server/config.ts), so `next start` picks up changes
// without a rebuild.
loadRootEnv();

// The early-attach page script (scripts/build-early-attach.ts, run before every build), built
// into the pages that inline it (web/src/components/ViewerPage.tsx). Empty: they load the file.
const EARLY_ATTACH_FILE = join(REPO_ROOT, 'web', 'public', 'early-attach.js');
const earlyAttachSource = existsSync(EARLY_ATTACH_FILE)
  ? readFileSync(EARLY_ATTACH_FILE, 'utf8')
  : '';

const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  env: { RAYDESK_EARLY_ATTACH_SOURCE: earlyAttachSource },
  transpilePackages: [
    '@raydesk/common',
    '@raydesk/db',
    '@raydesk/hypervisor',
    '@raydesk/gateway',
    '@raydesk/viewer',
  ],
  // Native or Node-only packages: load them from node_modules at run time, never bundle.
  serverExternalPackages: [
    '@node-rs/argon2',
    '@libsql/client',
    'libsql',
    '@prisma/adapter-libsql',
    '@prisma/adapter-pg',
    'pg',
    'socket.io-client',
  ],
  // Turbopack resolves the workspaces (and @raydesk/db's generated clients) from the repository root.
  turbopack: { root: REPO_ROOT },
  outputFileTracingRoot: REPO_ROOT,
  // Next checks the portal with its own settings; tsconfig.json adds the project references
  // that `npm run typecheck` (tsc -b) builds.
  typescript: { tsconfigPath: './tsconfig.next.json' },
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'same-origin' },
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=()' },
        ],
      },
    ];
  },
};

export default nextConfig;
