import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadRootEnv, REPO_ROOT } from '@raydesk/common/node';
import type { NextConfig } from 'next';

// web/ is the Next root, so Next only sees web/.env*. Raydesk keeps one .env at the repository
// root: load it here (variables already in the environment win). Server code reads its settings
// at run time from process.env (web/src/server/config.ts), so `next start` picks up changes
// without a rebuild.
loadRootEnv();

// The remote-desktop viewer lives in src/viewer/ (written with the gateway). Until that file
// exists, '@raydesk/viewer' resolves to a placeholder so the portal still builds.
const VIEWER = existsSync(join(REPO_ROOT, 'web/src/viewer/RemoteDesktop.tsx'))
  ? './src/viewer/RemoteDesktop.tsx'
  : './src/components/ViewerPlaceholder.tsx';

const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  transpilePackages: ['@raydesk/common', '@raydesk/db', '@raydesk/hypervisor', '@raydesk/gateway'],
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
  // The workspaces it imports (@raydesk/db with its generated clients, ...) live above web/.
  turbopack: { root: REPO_ROOT, resolveAlias: { '@raydesk/viewer': VIEWER } },
  webpack(config) {
    config.resolve.alias['@raydesk/viewer'] = join(REPO_ROOT, 'web', VIEWER);
    return config;
  },
  outputFileTracingRoot: REPO_ROOT,
  typescript: { tsconfigPath: './tsconfig.json' },
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
