// Where built images live and how a recipe is named there: `<cache>/appliances/<name>-<hash>/`.
// The hash covers the recipe, every guest file it uses and the builder's own source, so
// changing any of them makes a new cache entry (and a rebuild).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INITRAMFS_INIT, type ApplianceRecipe } from './recipes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** hypervisor/guest: the files that go into guest images. */
export const GUEST_DIR = resolve(HERE, '../../guest');

/** Builder sources whose content is part of every recipe hash (the recipe data itself is hashed
 * per appliance, so editing one recipe does not rebuild the others). */
export const BUILDER_SOURCES = [
  'apt-sources.ts',
  'build.ts',
  'busybox.ts',
  'cache.ts',
  'host-tools.ts',
  'kernel.ts',
  'rootfs.ts',
];

/** `${RAYDESK_CACHE_DIR:-~/.cache/raydesk}/appliances` */
export function applianceCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  let base = env.RAYDESK_CACHE_DIR?.trim() || join(homedir(), '.cache', 'raydesk');
  // A literal "~" (from a .env file or a quoted shell value) means the home directory.
  if (base === '~' || base.startsWith('~/')) base = join(homedir(), base.slice(1));
  return join(resolve(base), 'appliances');
}

/** Keeps JSON key order stable so the hash does not depend on object construction order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

export interface HashInputs {
  recipe: ApplianceRecipe;
  /** Guest file path (relative to GUEST_DIR) to its content. */
  readGuest?: (path: string) => Buffer;
  /** Builder source file name to its content. */
  readBuilder?: (file: string) => Buffer;
}

/** First 16 hex digits of sha256 over the recipe, its guest files and the builder source. */
export function recipeHash({ recipe, readGuest, readBuilder }: HashInputs): string {
  const guest = readGuest ?? ((p: string) => readFileSync(join(GUEST_DIR, p)));
  const builder = readBuilder ?? ((f: string) => readFileSync(join(HERE, f)));
  const guestPaths = [
    ...new Set([INITRAMFS_INIT, recipe.kernel.config, ...recipe.files.map((f) => f.src)]),
  ].sort();
  const doc = {
    recipe,
    guest: Object.fromEntries(guestPaths.map((p) => [p, sha256(guest(p))])),
    builder: Object.fromEntries(BUILDER_SOURCES.map((f) => [f, sha256(builder(f))])),
  };
  return sha256(stableStringify(doc)).slice(0, 16);
}

export function applianceDir(
  recipe: ApplianceRecipe,
  hash: string,
  cacheDir = applianceCacheDir(),
): string {
  return join(cacheDir, `${recipe.name}-${hash}`);
}
