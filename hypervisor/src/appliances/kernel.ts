// The guest kernel, compiled from Debian's kernel source package with our own configuration.
// Debian's 686 kernel ticks 250 times a second even when idle (CONFIG_HZ_PERIODIC), and under
// emulation every tick is a host wake-up; ours is tickless (NO_HZ_IDLE), so a halted guest costs
// the host nothing until a timer it asked for is due. Every driver an appliance needs is built
// in, so images carry no modules. One build is shared by all appliances through
// `<cache>/kernels/<source package>-<hash>/`.
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { GUEST_DIR, applianceCacheDir, stableStringify } from './cache.ts';
import { hasCommand, run, unpack } from './host-tools.ts';
import type { ApplianceRecipe } from './recipes.ts';
import { BuildsUnderWay } from './builds-under-way.ts';

/** Host tools a kernel build needs, beyond the image builder's own. */
export const KERNEL_BUILD_TOOLS = ['make', 'gcc', 'flex', 'bison', 'bc', 'xz'];

export interface GuestKernel {
  /** Upstream version and our suffix, e.g. 6.1.158-raydesk. */
  version: string;
  /** The bzImage, for v86's `bzimage` option. */
  bzImage: string;
}

export interface KernelBuildProgress {
  /** Source files compiled so far. */
  compiled: number;
}

/** One `CONFIG_X=value` assignment from a Kconfig fragment (`=n` means "not set"). */
interface ConfigAssignment {
  name: string;
  value: string;
}

export function parseConfigFragment(text: string): ConfigAssignment[] {
  const out: ConfigAssignment[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!m) throw new Error(`kernel config fragment: cannot parse line "${line}"`);
    out.push({ name: m[1]!, value: m[2]! });
  }
  return out;
}

/**
 * The fragment's assignments that Kconfig did not keep in the resolved `.config`, usually
 * because a dependency is missing. allnoconfig drops those silently, so the build checks.
 */
export function unappliedOptions(fragment: string, dotConfig: string): string[] {
  const resolved = new Map<string, string>();
  for (const line of dotConfig.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) resolved.set(set[1]!, set[2]!);
  }
  return parseConfigFragment(fragment)
    .filter(({ name, value }) => {
      const got = resolved.get(name);
      return value === 'n' ? got !== undefined && got !== 'n' : got !== value;
    })
    .map(({ name, value }) => `${name}=${value} (got ${resolved.get(name) ?? 'not set'})`);
}

const LOCALVERSION = 'LOCALVERSION=-raydesk';
const HERE = dirname(fileURLToPath(import.meta.url));

/** Cache key: the source package, the suite it comes from, our config and this builder. */
export function kernelKey(recipe: ApplianceRecipe, readGuest = guestFile): string {
  return createHash('sha256')
    .update(
      stableStringify({
        sourcePackage: recipe.kernel.sourcePackage,
        suite: recipe.suite,
        config: readGuest(recipe.kernel.config).toString('utf8'),
        builder: readFileSync(join(HERE, 'kernel.ts'), 'utf8'),
      }),
    )
    .digest('hex')
    .slice(0, 16);
}

function guestFile(path: string): Buffer {
  return readFileSync(join(GUEST_DIR, path));
}

export function kernelCacheDir(recipe: ApplianceRecipe): string {
  return join(
    dirname(applianceCacheDir()),
    'kernels',
    `${recipe.kernel.sourcePackage}-${kernelKey(recipe)}`,
  );
}

function readBuilt(dir: string): GuestKernel | null {
  const file = join(dir, 'kernel.json');
  if (!existsSync(file)) return null;
  const meta = JSON.parse(readFileSync(file, 'utf8')) as Omit<GuestKernel, 'bzImage'>;
  const bzImage = join(dir, 'bzImage');
  return existsSync(bzImage) ? { ...meta, bzImage } : null;
}

/** `make` with the build's output in the log, counting compiled files for progress. */
function make(
  tree: string,
  args: string[],
  log: string,
  opts: { env?: Record<string, string>; onCompiled?: (count: number) => void } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    appendFileSync(log, `\n$ make ${args.join(' ')}\n`);
    const out = createWriteStream(log, { flags: 'a' });
    const env = { ...process.env, ...opts.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
    const child = spawn('make', ['-C', tree, 'ARCH=i386', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let compiled = 0;
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out.write(chunk);
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      const before = compiled;
      for (const line of lines) if (/^\s+CC\s/.test(line)) compiled++;
      if (compiled !== before) opts.onCompiled?.(compiled);
    });
    child.stderr.pipe(out, { end: false });
    child.on('error', (err) => reject(new Error(`make: ${err.message}`)));
    child.on('close', (code, signal) => {
      out.end();
      if (code === 0) resolve();
      else {
        const tail = readFileSync(log, 'utf8').split('\n').slice(-25).join('\n');
        reject(
          new Error(`make ${args[0]} failed (${signal ?? `exit ${code}`}); log ${log}:\n${tail}`),
        );
      }
    });
  });
}

/** Kernel builds under way, by cache dir: appliances sharing a kernel wait for one compile. */
const building = new BuildsUnderWay<GuestKernel>();

/**
 * The guest kernel for `recipe`, compiled once and cached. A forced build compiles it again.
 * The source tree (about 1.3 GB unpacked) lives only in a temp dir during the build. Appliances
 * that share a kernel and are built at once (a host preparing desktop and browser together)
 * share one compile instead of running two on the same cores.
 */
export async function ensureKernel(
  recipe: ApplianceRecipe,
  log: string,
  opts: { force?: boolean; onProgress?: (p: KernelBuildProgress) => void } = {},
): Promise<GuestKernel> {
  const dir = kernelCacheDir(recipe);
  const cached = opts.force ? null : readBuilt(dir);
  if (cached) return cached;
  return building.run(dir, {
    lockPath: dir,
    force: opts.force,
    find: () => readBuilt(dir),
    build: () => buildKernel(recipe, dir, log, opts),
    onWait: () => appendFileSync(log, 'another process is compiling this kernel; waiting for it\n'),
  });
}

async function buildKernel(
  recipe: ApplianceRecipe,
  dir: string,
  log: string,
  opts: { onProgress?: (p: KernelBuildProgress) => void },
): Promise<GuestKernel> {
  const missing = KERNEL_BUILD_TOOLS.filter((t) => !hasCommand(t));
  if (missing.length > 0)
    throw new Error(`building the guest kernel needs these host tools: ${missing.join(', ')}`);

  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    const { sourcePackage } = recipe.kernel;
    const pkgRoot = join(tmp, 'package');
    mkdirSync(tmp);
    await unpack(recipe, [sourcePackage], pkgRoot, log, []);
    const srcDir = join(pkgRoot, 'usr/src');
    const tarball = join(srcDir, `${sourcePackage}.tar.xz`);
    if (!existsSync(tarball)) throw new Error(`${sourcePackage} has no ${tarball}`);
    await run('tar', ['-xJf', tarball, '-C', tmp], log);
    rmSync(pkgRoot, { recursive: true, force: true });
    const tree = join(tmp, sourcePackage);
    const upstream = readFileSync(join(tree, 'Makefile'), 'utf8')
      .split('\n')
      .filter((l) => /^(VERSION|PATCHLEVEL|SUBLEVEL) = /.test(l))
      .map((l) => l.split('=')[1]!.trim())
      .join('.');

    // Everything off, then exactly our fragment on (with what it depends on).
    const fragment = join(tmp, 'raydesk.config');
    copyFileSync(join(GUEST_DIR, recipe.kernel.config), fragment);
    await make(tree, ['allnoconfig', LOCALVERSION], log, { env: { KCONFIG_ALLCONFIG: fragment } });
    const dotConfig = readFileSync(join(tree, '.config'), 'utf8');
    const unapplied = unappliedOptions(readFileSync(fragment, 'utf8'), dotConfig);
    if (unapplied.length > 0)
      throw new Error(
        `${recipe.kernel.config}: Kconfig did not apply ${unapplied.join(', ')} (a dependency is missing)`,
      );

    const jobs = String(Math.max(1, availableParallelism()));
    await make(tree, [`-j${jobs}`, 'bzImage', LOCALVERSION], log, {
      onCompiled: (compiled) => opts.onProgress?.({ compiled }),
    });
    const out = join(tmp, 'out');
    mkdirSync(out);
    copyFileSync(join(tree, 'arch/x86/boot/bzImage'), join(out, 'bzImage'));
    copyFileSync(join(tree, '.config'), join(out, 'config'));
    const meta: Omit<GuestKernel, 'bzImage'> = { version: `${upstream}-raydesk` };
    writeFileSync(join(out, 'kernel.json'), JSON.stringify(meta, null, 2) + '\n');
    const old = existsSync(dir) ? `${tmp}.old` : null;
    if (old) renameSync(dir, old);
    renameSync(out, dir);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    const done = readBuilt(dir);
    if (done) return done; // a concurrent build finished first
    throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return readBuilt(dir)!;
}
