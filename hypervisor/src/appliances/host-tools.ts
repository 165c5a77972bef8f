// Host-side helpers the image builder shares: running a logged command, finding host tools,
// and unpacking Debian packages with mmdebstrap (no maintainer scripts run).
import { spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findMirrorUri, mmdebstrapSource } from './apt-sources.ts';
import { applianceCacheDir } from './cache.ts';
import { DPKG_PATH_EXCLUDES, type ApplianceRecipe } from './recipes.ts';

/** Shared .deb cache so rebuilds do not download again. */
export function debCacheDir(): string {
  return join(dirname(applianceCacheDir()), 'apt', 'archives');
}

export function run(cmd: string, args: string[], log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    appendFileSync(log, `\n$ ${cmd} ${args.map((a) => JSON.stringify(a)).join(' ')}\n`);
    const out = createWriteStream(log, { flags: 'a' });
    // A plain system PATH: mmdebstrap's helpers (mmtarfilter via `env python3`) must not go
    // through per-user shims such as pyenv, which cost a process tree per package.
    const env = { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' };
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', (err) => reject(new Error(`${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      out.end();
      if (code === 0) resolve();
      else {
        const tail = readFileSync(log, 'utf8').split('\n').slice(-25).join('\n');
        reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`}); log ${log}:\n${tail}`));
      }
    });
  });
}

/** Single-quotes a string for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function hasCommand(cmd: string): string | null {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** mmdebstrap in extract mode: unpack `packages` and their dependencies, run no scripts. */
export async function unpack(
  recipe: ApplianceRecipe,
  packages: string[],
  target: string,
  log: string,
  filters: string[],
) {
  const uri = findMirrorUri(recipe.suite);
  const debs = debCacheDir();
  mkdirSync(debs, { recursive: true });
  await run(
    'mmdebstrap',
    [
      '--mode=root',
      '--variant=extract',
      '--format=directory',
      `--architectures=${recipe.architecture}`,
      '--aptopt=Apt::Install-Recommends "false"',
      ...DPKG_PATH_EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
      ...filters.map((f) => `--dpkgopt=${f}`),
      `--include=${packages.join(',')}`,
      // The shared cache is hard-linked in and new downloads are linked back out (same file
      // system as the temp dir), which is instant where mmdebstrap's sync-in would copy it all.
      `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/ && find ${shq(debs)} -maxdepth 1 -name '*.deb' -exec ln -f {} "$1"/var/cache/apt/archives/ \\;`,
      `--extract-hook=find "$1"/var/cache/apt/archives -maxdepth 1 -name '*.deb' -exec ln -f {} ${shq(debs)}/ \\;`,
      '--skip=download/empty',
      '--skip=essential/unlink',
      recipe.suite,
      target,
      mmdebstrapSource(uri, recipe.suite),
    ],
    log,
  );
}
