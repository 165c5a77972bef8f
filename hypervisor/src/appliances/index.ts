// Appliance images: guest OS images (kernel, initramfs, ext4 root) built from Debian i386
// packages and cached under `${RAYDESK_CACHE_DIR:-~/.cache/raydesk}/appliances/`.
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { APPLIANCE_NAMES, type ApplianceName } from '../api/protocol.ts';
import { MANIFEST, buildAppliance, type ApplianceManifest, type BuildProgress } from './build.ts';
import { BuildsUnderWay } from './builds-under-way.ts';
import type { ApplianceImage, ImageFetch } from './image.ts';
import { applianceCacheDir, applianceDir, recipeHash } from './cache.ts';
import { getRecipe } from './recipes.ts';

export type { ApplianceManifest, BuildProgress } from './build.ts';
export type { ApplianceRecipe } from './recipes.ts';
export { BUILD_STEPS } from './build.ts';
export { RECIPES, getRecipe } from './recipes.ts';
export { applianceCacheDir } from './cache.ts';
export { ImageOffers, fetchImageFromPeers, serveImage } from './image-peers.ts';
export type { ApplianceImage, ImageFetch, ImageFetchTarget, ImageIdentity } from './image.ts';

export interface EnsureApplianceOptions {
  onProgress?: (p: BuildProgress) => void;
  /** Rebuild even if the cache has this recipe hash. */
  force?: boolean;
  /** Another process on this machine is building the same image; this one waits for it. */
  onWait?: () => void;
  /** The `appliances` folder of the cache (default: RAYDESK_CACHE_DIR's). */
  cacheDir?: string;
  /** Tried before building: puts a complete image in `target.dir`, or answers false. */
  fetchImage?: ImageFetch;
}

export interface ApplianceListing {
  name: ApplianceName;
  description: string;
  recipeHash: string;
  memoryMiB: number;
  vgaMemoryMiB: number;
  dir: string;
  /** True when the cache holds a complete image for the current recipe hash. */
  built: boolean;
}

function imageAt(name: ApplianceName, dir: string): ApplianceImage | null {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) return null;
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ApplianceManifest;
  const paths = {
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    rootfs: join(dir, 'rootfs.ext4'),
  };
  if (!Object.values(paths).every((p) => existsSync(p))) return null;
  return {
    name,
    dir,
    ...paths,
    cmdline: manifest.cmdline,
    memoryMiB: manifest.memoryMiB,
    vgaMemoryMiB: manifest.vgaMemoryMiB,
    recipeHash: manifest.recipeHash,
    buildId: manifest.buildId ?? `built-${manifest.builtAt}`,
    manifest,
  };
}

const building = new BuildsUnderWay<ApplianceImage>();

/** The appliance's image for the current recipe, if `cacheDir` holds it (nothing is built). */
export function findAppliance(
  name: ApplianceName,
  cacheDir = applianceCacheDir(),
): ApplianceImage | null {
  const recipe = getRecipe(name);
  return imageAt(name, applianceDir(recipe, recipeHash({ recipe }), cacheDir));
}

/**
 * The appliance's image for the current recipe hash: from the cache, else fetched (a fleet's
 * peer, `opts.fetchImage`), else built.
 */
export async function ensureAppliance(
  name: ApplianceName,
  opts: EnsureApplianceOptions = {},
): Promise<ApplianceImage> {
  const recipe = getRecipe(name);
  const hash = recipeHash({ recipe });
  const cacheDir = opts.cacheDir ?? applianceCacheDir();
  const dir = applianceDir(recipe, hash, cacheDir);
  if (!opts.force) {
    const cached = imageAt(name, dir);
    if (cached) {
      markUsed(dir);
      return cached;
    }
  }
  const { fetchImage } = opts;
  return building
    .run(dir, {
      lockPath: dir,
      force: opts.force,
      onWait: opts.onWait,
      find: () => imageAt(name, dir),
      build: async () => {
        const fetched =
          fetchImage && !opts.force ? await fetchInto(name, hash, dir, fetchImage) : null;
        if (fetched) return fetched;
        const built = await buildAppliance(recipe, {
          onProgress: opts.onProgress,
          force: opts.force,
        });
        const image = imageAt(name, built);
        if (!image)
          throw new Error(`appliance ${name} built in ${built} but its files are missing`);
        return image;
      },
    })
    .then((image) => {
      markUsed(image.dir);
      return image;
    });
}

/** The image `fetchImage` puts into a temp dir, moved to `dir`; null if it could not. */
async function fetchInto(
  name: ApplianceName,
  hash: string,
  dir: string,
  fetchImage: ImageFetch,
): Promise<ApplianceImage | null> {
  const tmp = `${dir}.fetch-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(tmp, { recursive: true });
  try {
    if (!(await fetchImage({ appliance: name, recipeHash: hash, dir: tmp }))) return null;
    if (!imageAt(name, tmp)) return null;
    try {
      renameSync(tmp, dir);
    } catch (error) {
      // Published meanwhile by a process without the lock (an older checkout): keep that one.
      if (!imageAt(name, dir)) throw error;
    }
    return imageAt(name, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Every appliance with its current recipe hash and whether that image is in the cache. */
export function listAppliances(): ApplianceListing[] {
  return APPLIANCE_NAMES.map((name) => {
    const recipe = getRecipe(name);
    const hash = recipeHash({ recipe });
    const dir = applianceDir(recipe, hash);
    return {
      name,
      description: recipe.description,
      recipeHash: hash,
      memoryMiB: recipe.memoryMiB,
      vgaMemoryMiB: recipe.vgaMemoryMiB,
      dir,
      built: imageAt(name, dir) !== null,
    };
  });
}

const LAST_USED = 'last-used';
/** Images of older recipes unused this long are deleted. */
export const STALE_IMAGE_DAYS = 14;

/** Stamps an image as used now, so pruning keeps it (another checkout may still run it). */
function markUsed(dir: string): void {
  try {
    writeFileSync(join(dir, LAST_USED), `${new Date().toISOString()}\n`);
  } catch {
    // A read-only cache still works; the image just ages by its build time.
  }
}

function lastUsedMs(dir: string): number {
  const stamp = join(dir, LAST_USED);
  return statSync(existsSync(stamp) ? stamp : dir).mtimeMs;
}

/**
 * Deletes cached images of older recipes that nothing has used for STALE_IMAGE_DAYS. They are
 * not deleted at once: another checkout on this machine may run that recipe, and personal disks
 * made on an older base need it to be kept (see README "Disks").
 */
export function pruneStaleAppliances(now = Date.now()): string[] {
  const root = applianceCacheDir();
  if (!existsSync(root)) return [];
  const current = new Set(listAppliances().map((a) => a.dir));
  const removed: string[] = [];
  for (const entry of readdirSync(root)) {
    const dir = join(root, entry);
    const isImageDir = APPLIANCE_NAMES.some((name) => entry.startsWith(`${name}-`));
    const stale = now - lastUsedMs(dir) > STALE_IMAGE_DAYS * 86_400_000;
    if (isImageDir && !current.has(dir) && stale) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(entry);
    }
  }
  return removed;
}

/** Cache root, re-exported under the name the rest of the hypervisor uses. */
export const cacheDir = applianceCacheDir;
