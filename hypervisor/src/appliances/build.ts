// Builds one appliance image from Debian i386 packages: kernel, initramfs and ext4 root file
// system, into a temp dir that is renamed into the cache only when complete.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { busyboxApplets } from './busybox.ts';
import { GUEST_DIR, applianceCacheDir, applianceDir, recipeHash } from './cache.ts';
import { hasCommand, run, unpack } from './host-tools.ts';
import { ensureKernel } from './kernel.ts';
import { INITRAMFS_INIT, type ApplianceRecipe } from './recipes.ts';
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
  packages: string[];
  builtAt: string;
  /**
   * Unique to this build. Two builds of one recipe differ (file system UUID, timestamps), so
   * golden snapshots, saved states and disks made on an image name this, not just the recipe.
   * Images built before it existed lack it; their build time stands in.
   */
  buildId?: string;
}

export const MANIFEST = 'manifest.json';

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

export interface BuildOptions {
  onProgress?: (p: BuildProgress) => void;
  /** Also compile the shared guest kernel again. */
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
  const step = (s: BuildStep, detail?: string, since = Date.now()) => {
    current = s;
    stepStart = since;
    opts.onProgress?.({
      appliance: recipe.name,
      step: s,
      index: BUILD_STEPS.indexOf(s),
      total: BUILD_STEPS.length,
      phase: 'start',
      elapsedMs: Date.now() - t0,
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
    // 1. Kernel: compiled once from Debian's source and shared by all appliances (a forced
    // build compiles it again).
    step('kernel', recipe.kernel.sourcePackage);
    let lastReport = 0;
    const kernel = await ensureKernel(recipe, log, {
      force: opts.force,
      onProgress: ({ compiled }) => {
        if (Date.now() - lastReport < 1000) return;
        lastReport = Date.now();
        step('kernel', `${recipe.kernel.sourcePackage}: ${compiled} files compiled`, stepStart);
      },
    });
    copyFileSync(kernel.bzImage, join(tmp, 'vmlinuz'));
    done(kernel.version);

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

    // 4. Initramfs: static busybox and /init (the kernel has every driver built in).
    step('initramfs');
    const ird = join(work, 'initramfs');
    for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot'])
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
    writeCpio(ird, join(tmp, 'initrd.img'));
    done();

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
      kernelVersion: kernel.version,
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
      packages: recipe.packages,
      builtAt: new Date().toISOString(),
      buildId: randomBytes(8).toString('hex'),
    };
    writeFileSync(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    // Published images are not replaced behind their users' backs: golden snapshots, saved
    // states and personal disks were made on those exact bytes. Only a forced rebuild replaces
    // one (moving it aside first, so the name is never half-written); otherwise a build that
    // finds the entry published meanwhile (an older checkout without the lock) keeps that one.
    const old = opts.force && existsSync(finalDir) ? `${tmp}.old` : null;
    if (old) renameSync(finalDir, old);
    try {
      renameSync(tmp, finalDir);
      if (old) rmSync(old, { recursive: true, force: true });
    } catch (err) {
      if (!existsSync(join(finalDir, MANIFEST))) throw err;
      rmSync(tmp, { recursive: true, force: true });
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
