#!/usr/bin/env node
// First step of `npm start`, `npm test` and `npm run bench` on a fresh clone.
// Plain Node with no dependencies, because it runs before `npm ci` has installed any.
// It installs the Debian packages Raydesk needs (as root) or lists them, installs npm
// dependencies when the lockfile changed, and creates .env from .env.example.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages, grouped by why they are needed. */
export const APT_PACKAGES = {
  'guest images (mmdebstrap, mke2fs, cpio, zstd) and BIOS': [
    'mmdebstrap',
    'e2fsprogs',
    'cpio',
    'zstd',
    'kmod',
    'seabios',
  ],
  'guest kernel build (compiled from Debian source)': [
    'build-essential',
    'flex',
    'bison',
    'bc',
    'xz-utils',
  ],
  'node-canvas native build': [
    'build-essential',
    'python3',
    'pkg-config',
    'libcairo2-dev',
    'libpango1.0-dev',
    'libjpeg-dev',
    'libgif-dev',
  ],
  'VGA text-mode font': ['console-setup-linux'],
  'end-to-end tests and screenshots': ['chromium', 'fonts-dejavu-core'],
  'PostgreSQL tests and a fleet (npm run fleet): PostgreSQL and Redis': [
    'postgresql',
    'redis-server',
  ],
};

function log(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
}

function missingAptPackages() {
  const wanted = [...new Set(Object.values(APT_PACKAGES).flat())];
  return wanted.filter((name) => {
    const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return result.status !== 0 || !result.stdout.includes('install ok installed');
  });
}

function ensureAptPackages() {
  if (!existsSync('/usr/bin/dpkg-query')) {
    log('not a Debian system: install the equivalents of these packages yourself:');
    for (const [why, names] of Object.entries(APT_PACKAGES)) log(`  ${why}: ${names.join(' ')}`);
    return;
  }
  const missing = missingAptPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log('these Debian packages are missing, and installing them needs root:');
    log(`  sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
}

function dependencyFingerprint() {
  const hash = createHash('sha256');
  const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces ?? [];
  for (const file of [
    'package-lock.json',
    'package.json',
    ...workspaces.map((workspace) => `${workspace}/package.json`),
  ]) {
    const path = join(root, file);
    if (existsSync(path)) hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}

function ensureNpmDependencies() {
  const stamp = join(root, 'node_modules', '.raydesk-deps');
  const fingerprint = dependencyFingerprint();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === fingerprint) return;
  const fresh = !existsSync(join(root, 'node_modules'));
  log(fresh ? 'installing npm dependencies (npm ci)' : 'dependencies changed: npm install');
  // node-gyp builds (canvas) compile against the Node headers Debian ships in /usr/include/node.
  const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr' };
  execFileSync('npm', [fresh ? 'ci' : 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
  writeFileSync(stamp, fingerprint);
}

// Secrets in .env.example are placeholders; every new .env gets its own random ones.
function ensureEnvFile() {
  const env = join(root, '.env');
  if (existsSync(env)) return;
  const example = readFileSync(join(root, '.env.example'), 'utf8');
  const filled = example.replace(
    /^([A-Z0-9_]*(?:SECRET|PASSWORD))=change-me.*$/gm,
    (_line, key) => `${key}=${randomBytes(32).toString('base64url')}`,
  );
  writeFileSync(env, filled, { mode: 0o600 });
  log('created .env from .env.example with fresh secrets');
}

ensureAptPackages();
ensureNpmDependencies();
ensureEnvFile();
