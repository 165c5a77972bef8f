// Builds one appliance image from Debian i386 packages: kernel, initramfs and ext4 root file
// system, into a temp dir that is renamed into the cache only when complete.
import { spawn, execFileSync } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  appendFileSync,
} from 'node:fs';
import { join, dirname } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { findMirrorUri, mmdebstrapSource } from './apt-sources.ts';
import { busyboxApplets } from './busybox.ts';
import {
  GUEST_DIR,
  applianceCacheDir,
  applianceDir,
  recipeHash,
  stableStringify,
} from './cache.ts';
import {
  generateModulesDep,
  parseModulesBuiltin,
  parseModulesDep,
  resolveLoadOrder,
} from './modules.ts';
import {
  DPKG_PATH_EXCLUDES,
  INITRAMFS_INIT,
  KERNEL_MODULE_DIRS,
  type ApplianceRecipe,
} from './recipes.ts';
import { configureRootfs, prune, treeSize } from './rootfs.ts';

export const BUILD_STEPS = [
  'kernel',
  'packages',
  'configure',
  'initramfs',
  'rootfs',
  'finish',
] as const;
export type BuildStep = (typeof BUILD_STEPS)[number];

export interface BuildProgress {
  appliance: string;
  step: BuildStep;
  /** 0-based position of the step in BUILD_STEPS. */
  index: number;
  total: number;
  phase: 'start' | 'end';
  /** Milliseconds since the build started. */
  elapsedMs: number;
  /** Milliseconds the step took (phase 'end'). */
  stepMs?: number;
  detail?: string;
}

export interface ApplianceManifest {
  name: string;
  recipeHash: string;
  kernelVersion: string;
  files: { vmlinuz: number; 'initrd.img': number; 'rootfs.ext4': number };
  rootfsContentBytes: number;
  buildSeconds: number;
  cmdline: string;
  memoryMiB: number;
  vgaMemoryMiB: number;
  modules: string[];
  packages: string[];
  builtAt: string;
}

export const MANIFEST = 'manifest.json';

/** Shared .deb cache so rebuilds do not download again. */
export function debCacheDir(): string {
  return join(dirname(applianceCacheDir()), 'apt', 'archives');
}

function run(cmd: string, args: string[], log: string): Promise<void> {
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

function hasCommand(cmd: string): string | null {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** mmdebstrap in extract mode: unpack `packages` and their dependencies, run no scripts. */
async function unpack(
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

function writeCpio(dir: string, out: string) {
  const cpio = execFileSync(
    'sh',
    ['-c', 'find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet'],
    {
      cwd: dir,
      maxBuffer: 1 << 30,
    },
  );
  writeFileSync(out, gzipSync(cpio, { level: 9 }));
}

interface KernelTree {
  kernelVersion: string;
  vmlinuz: string;
  /** lib/modules/<version>, with modules.dep. */
  moduleDir: string;
}

/**
 * The kernel and the module directories an image may load from, unpacked once into
 * `<cache>/kernels/<package>-<hash>/` (the hash covers package, suite, architecture and the
 * module filter) with a modules.dep.
 */
async function ensureKernel(
  recipe: ApplianceRecipe,
  log: string,
  force: boolean,
): Promise<KernelTree> {
  const filters = [
    'path-exclude=/lib/modules/*/kernel/*',
    ...KERNEL_MODULE_DIRS.map(
      (d) => `path-include=/lib/modules/*/kernel/${d}${d.endsWith('.ko') ? '' : '/*'}`,
    ),
  ];
  const key = createHash('sha256')
    .update(
      stableStringify({
        pkg: recipe.kernelPackage,
        suite: recipe.suite,
        arch: recipe.architecture,
        filters,
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const kernels = join(dirname(applianceCacheDir()), 'kernels');
  const dir = join(kernels, `${recipe.kernelPackage}-${key}`);
  const read = (): KernelTree | null => {
    if (!existsSync(join(dir, 'complete'))) return null;
    const kernelVersion = readFileSync(join(dir, 'complete'), 'utf8').trim();
    return {
      kernelVersion,
      vmlinuz: join(dir, 'boot', `vmlinuz-${kernelVersion}`),
      moduleDir: join(dir, 'lib/modules', kernelVersion),
    };
  };
  const cached = force ? null : read();
  if (cached) return cached;
  mkdirSync(kernels, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    await unpack(recipe, [recipe.kernelPackage], tmp, log, filters);
    const vmlinuz = readdirSync(join(tmp, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${recipe.kernelPackage} has no /boot/vmlinuz-*`);
    const kernelVersion = vmlinuz.slice('vmlinuz-'.length);
    const depmod = hasCommand('depmod');
    if (depmod) await run(depmod, ['-b', tmp, kernelVersion], log);
    else generateModulesDep(join(tmp, 'lib/modules', kernelVersion));
    // Keep only the kernel and its modules (the package's dependencies were unpacked too).
    for (const e of readdirSync(tmp))
      if (e !== 'boot' && e !== 'lib') rmSync(join(tmp, e), { recursive: true, force: true });
    for (const e of readdirSync(join(tmp, 'lib')))
      if (e !== 'modules') rmSync(join(tmp, 'lib', e), { recursive: true, force: true });
    writeFileSync(join(tmp, 'complete'), `${kernelVersion}\n`);
    const old = existsSync(dir) ? `${tmp}.old` : null;
    if (old) renameSync(dir, old);
    renameSync(tmp, dir);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (read()) return read()!; // someone else finished it
    throw err;
  }
  return read()!;
}

export interface BuildOptions {
  onProgress?: (p: BuildProgress) => void;
  /** Also refresh the shared kernel cache. */
  force?: boolean;
  /** Keep the temp dir (unpacked trees) after a failed build, for debugging. */
  keepFailed?: boolean;
}

export async function buildAppliance(
  recipe: ApplianceRecipe,
  opts: BuildOptions = {},
): Promise<string> {
  if (process.getuid?.() !== 0)
    throw new Error('building appliance images needs root (mmdebstrap, mknod, chown)');
  for (const tool of ['mmdebstrap', 'mke2fs', 'cpio', 'dpkg-deb']) {
    if (!hasCommand(tool)) throw new Error(`building appliance images needs ${tool} on the host`);
  }
  const hash = recipeHash({ recipe });
  const cacheDir = applianceCacheDir();
  const finalDir = applianceDir(recipe, hash, cacheDir);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = join(
    cacheDir,
    `.tmp-${recipe.name}-${hash}-${process.pid}-${randomBytes(3).toString('hex')}`,
  );
  const work = join(tmp, 'work');
  mkdirSync(work, { recursive: true });
  const log = join(tmp, 'build.log');
  writeFileSync(log, `raydesk appliance ${recipe.name} ${hash}\n`);
  const t0 = Date.now();
  let stepStart = t0;
  let current: BuildStep = 'kernel';
  const step = (s: BuildStep, detail?: string) => {
    current = s;
    stepStart = Date.now();
    opts.onProgress?.({
      appliance: recipe.name,
      step: s,
      index: BUILD_STEPS.indexOf(s),
      total: BUILD_STEPS.length,
      phase: 'start',
      elapsedMs: stepStart - t0,
      detail,
    });
  };
  const done = (detail?: string) => {
    const now = Date.now();
    opts.onProgress?.({
      appliance: recipe.name,
      step: current,
      index: BUILD_STEPS.indexOf(current),
      total: BUILD_STEPS.length,
      phase: 'end',
      elapsedMs: now - t0,
      stepMs: now - stepStart,
      detail,
    });
  };

  try {
    // 1. Kernel: unpacked on its own so its dependencies stay out of the root file system,
    // and shared by all appliances through the kernel cache (a forced build refreshes it).
    step('kernel', recipe.kernelPackage);
    const kernel = await ensureKernel(recipe, log, Boolean(opts.force));
    const { kernelVersion, moduleDir } = kernel;
    const builtinFile = join(moduleDir, 'modules.builtin');
    const builtin = existsSync(builtinFile)
      ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8'))
      : new Set<string>();
    const loadOrder = resolveLoadOrder(
      parseModulesDep(readFileSync(join(moduleDir, 'modules.dep'), 'utf8')),
      recipe.modules,
      builtin,
    );
    copyFileSync(kernel.vmlinuz, join(tmp, 'vmlinuz'));
    done(`${kernelVersion}, ${loadOrder.length} modules`);

    // 2. Packages.
    step('packages', `${recipe.packages.length} packages`);
    const root = join(work, 'root');
    await unpack(
      recipe,
      recipe.packages,
      root,
      log,
      recipe.dpkgExcludes.map((p) => `path-exclude=${p}`),
    );
    done();

    // 3. Configure the tree on the host (no maintainer scripts ran).
    step('configure');
    const pruned = prune(root, recipe.prune);
    configureRootfs(root, recipe, GUEST_DIR);
    done(`${pruned} paths pruned`);

    // 4. Initramfs: static busybox, the modules in load order, /init.
    step('initramfs');
    const ird = join(work, 'initramfs');
    for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'newroot', 'lib/modules'])
      mkdirSync(join(ird, d), { recursive: true });
    const busybox = readFileSync(join(root, 'bin/busybox'));
    writeFileSync(join(ird, 'bin/busybox'), busybox, { mode: 0o755 });
    for (const a of busyboxApplets(busybox)) {
      if (a !== 'busybox' && a !== 'linuxrc') symlinkSync('busybox', join(ird, 'bin', a));
    }
    execFileSync('mknod', ['-m', '600', join(ird, 'dev/console'), 'c', '5', '1']);
    execFileSync('mknod', ['-m', '666', join(ird, 'dev/null'), 'c', '1', '3']);
    copyFileSync(join(GUEST_DIR, INITRAMFS_INIT), join(ird, 'init'));
    chmodSync(join(ird, 'init'), 0o755);
    for (const m of loadOrder) {
      mkdirSync(dirname(join(ird, 'lib/modules', m)), { recursive: true });
      copyFileSync(join(moduleDir, m), join(ird, 'lib/modules', m));
    }
    writeFileSync(join(ird, 'etc/modules.order'), loadOrder.join('\n') + '\n');
    writeCpio(ird, join(tmp, 'initrd.img'));
    done(`${loadOrder.length} modules`);

    // 5. ext4 root file system from the tree, no mounting.
    step('rootfs');
    const { bytes, entries } = treeSize(root);
    const MiB = 1024 * 1024;
    const metaMiB = Math.ceil((bytes * 0.08 + entries * 512) / MiB) + 24; // inodes, journal, slack
    const sizeMiB = Math.ceil((Math.ceil(bytes / MiB) + metaMiB + recipe.freeSpaceMiB) / 4) * 4;
    await run(
      'mke2fs',
      [
        '-q',
        '-F',
        '-t',
        'ext4',
        '-L',
        `raydesk-${recipe.name}`,
        '-m',
        '0',
        '-b',
        '4096',
        '-E',
        'root_owner=0:0',
        '-d',
        root,
        join(tmp, 'rootfs.ext4'),
        `${sizeMiB}M`,
      ],
      log,
    );
    done(`${sizeMiB} MiB`);

    // 6. Manifest, then rename into place.
    step('finish');
    rmSync(work, { recursive: true, force: true });
    const size = (f: string) => statSync(join(tmp, f)).size;
    const manifest: ApplianceManifest = {
      name: recipe.name,
      recipeHash: hash,
      kernelVersion,
      files: {
        vmlinuz: size('vmlinuz'),
        'initrd.img': size('initrd.img'),
        'rootfs.ext4': size('rootfs.ext4'),
      },
      rootfsContentBytes: bytes,
      buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
      cmdline: recipe.cmdline,
      memoryMiB: recipe.memoryMiB,
      vgaMemoryMiB: recipe.vgaMemoryMiB,
      modules: loadOrder,
      packages: recipe.packages,
      builtAt: new Date().toISOString(),
    };
    writeFileSync(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    // A forced rebuild moves the old entry aside first, so the name is never half-written.
    const old = existsSync(finalDir) ? `${tmp}.old` : null;
    if (old) renameSync(finalDir, old);
    try {
      renameSync(tmp, finalDir);
      if (old) rmSync(old, { recursive: true, force: true });
    } catch (err) {
      // Another builder finished the same hash first: keep theirs.
      if (existsSync(join(finalDir, MANIFEST))) rmSync(tmp, { recursive: true, force: true });
      else throw err;
    }
    done();
    return finalDir;
  } catch (err) {
    const failedLog = join(cacheDir, `${recipe.name}-${hash}.failed.log`);
    try {
      copyFileSync(log, failedLog);
    } catch {
      /* ignore */
    }
    if (!opts.keepFailed) rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
