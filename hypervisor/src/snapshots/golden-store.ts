// Golden snapshots on disk, in the shared cache (~/.cache/raydesk/golden): one saved state and
// its manifest per appliance image and emulator version. The store finds, verifies, loads, saves
// and prunes them; building one is golden.ts's job.
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { z } from 'zod';
import { applianceNameSchema, type ApplianceName } from '../api/protocol.ts';
import { STALE_IMAGE_DAYS, type ImageIdentity } from '../appliances/index.ts';
import { readStateFile, readStateHeader, writeStateFile } from './codec.ts';

const require = createRequire(import.meta.url);
/** Bump when the way golden snapshots are made changes, so caches are rebuilt. */
const GOLDEN_FORMAT = 1;

const manifestSchema = z.object({
  appliance: applianceNameSchema,
  recipeHash: z.string(),
  /** The build of that recipe the snapshot booted: its guest caches that file system. */
  imageBuildId: z.string(),
  v86Version: z.string(),
  /** Wall time from power-on to the agent's ready signal. */
  coldBootMs: z.number(),
  settleMs: z.number(),
  saveMs: z.number(),
  rawBytes: z.number(),
  fileBytes: z.number(),
  createdAt: z.string(),
});
export type GoldenManifest = z.infer<typeof manifestSchema>;

/** What a host offers a peer lacking its snapshot: the manifest and the state file's sha256. */
export const goldenOfferSchema = z.object({
  manifest: manifestSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type GoldenOffer = z.infer<typeof goldenOfferSchema>;

/** A snapshot from a peer that does not match this host's image, emulator or its own hash. */
export class GoldenMismatchError extends Error {}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** How long the snapshot's guest took to boot and settle, for its manifest. */
export interface GoldenTimings {
  coldBootMs: number;
  settleMs: number;
}

export interface GoldenPaths {
  state: string;
  manifest: string;
}

export function v86Version(): string {
  return (require('v86/package.json') as { version: string }).version;
}

export class GoldenStore {
  constructor(
    readonly dir: string,
    /** The appliance image this host boots. */
    private readonly imageOf: (appliance: ApplianceName) => Promise<ImageIdentity>,
    /** Where the cached images are (`<appliance>-<recipe hash>` each), for pruning. */
    private readonly imagesDir = join(dir, '..', 'appliances'),
  ) {}

  /** The store in a cache directory (RAYDESK_CACHE_DIR). */
  static inCache(
    cacheDir: string,
    imageOf: (appliance: ApplianceName) => Promise<ImageIdentity>,
  ): GoldenStore {
    return new GoldenStore(join(cacheDir, 'golden'), imageOf);
  }

  /** Where the snapshot of the appliance's current image and this v86 lives. */
  async paths(appliance: ApplianceName): Promise<GoldenPaths> {
    const { recipeHash } = await this.imageOf(appliance);
    const base = `${appliance}-${recipeHash}-v86_${v86Version()}-g${GOLDEN_FORMAT}`;
    return { state: join(this.dir, `${base}.state`), manifest: join(this.dir, `${base}.json`) };
  }

  /** The current snapshot's manifest, if there is one that reads and names this image and v86. */
  async manifest(appliance: ApplianceName): Promise<GoldenManifest | null> {
    const { manifest } = await this.paths(appliance);
    if (!existsSync(manifest)) return null;
    let parsed;
    try {
      parsed = manifestSchema.safeParse(JSON.parse(readFileSync(manifest, 'utf8')));
    } catch {
      return null;
    }
    if (!parsed.success) return null;
    // One made from another build of the image is stale: it is made again.
    return (await this.matches(appliance, parsed.data)) ? parsed.data : null;
  }

  /** The current snapshot if both its manifest and its state are there. */
  async find(appliance: ApplianceName): Promise<GoldenManifest | null> {
    const manifest = await this.manifest(appliance);
    const { state } = await this.paths(appliance);
    return manifest && existsSync(state) ? manifest : null;
  }

  /** Whether a manifest is for this very build of the appliance's image, and this emulator. */
  async matches(appliance: ApplianceName, manifest: GoldenManifest): Promise<boolean> {
    const image = await this.imageOf(appliance);
    return (
      manifest.appliance === appliance &&
      manifest.recipeHash === image.recipeHash &&
      manifest.imageBuildId === image.buildId &&
      manifest.v86Version === v86Version()
    );
  }

  /** The current snapshot as a peer may fetch it: manifest, state file and its sha256. */
  async offer(appliance: ApplianceName): Promise<(GoldenOffer & { statePath: string }) | null> {
    const manifest = await this.find(appliance);
    if (!manifest) return null;
    const { state } = await this.paths(appliance);
    return { manifest, sha256: await sha256File(state), statePath: state };
  }

  /**
   * Stores a snapshot fetched from a peer, after checking that it is for this appliance's
   * current image (recipe hash) and emulator, that the file has the sha256 the peer announced and
   * that its header names the same image. Throws GoldenMismatchError otherwise; nothing is kept.
   */
  async install(
    appliance: ApplianceName,
    offer: GoldenOffer,
    stateFile: Buffer,
  ): Promise<GoldenManifest> {
    const { manifest, sha256 } = offer;
    const { recipeHash, buildId } = await this.imageOf(appliance);
    if (manifest.appliance !== appliance || manifest.recipeHash !== recipeHash)
      throw new GoldenMismatchError(`the peer's ${appliance} snapshot is for another image`);
    if (manifest.imageBuildId !== buildId)
      throw new GoldenMismatchError(
        `the peer's ${appliance} snapshot is for its own build of the image, not this host's ` +
          `(images built on each host differ; give hosts one image cache to share snapshots)`,
      );
    if (manifest.v86Version !== v86Version())
      throw new GoldenMismatchError(
        `the peer's ${appliance} snapshot is for v86 ${manifest.v86Version}`,
      );
    const actual = createHash('sha256').update(stateFile).digest('hex');
    if (actual !== sha256 || stateFile.byteLength !== manifest.fileBytes)
      throw new GoldenMismatchError(`the ${appliance} snapshot does not match its sha256`);
    mkdirSync(this.dir, { recursive: true });
    const paths = await this.paths(appliance);
    const temp = `${paths.state}.peer-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, stateFile);
      const { header } = await readStateHeader(temp);
      if (
        header.appliance !== appliance ||
        header.recipeHash !== recipeHash ||
        header.imageBuildId !== buildId
      )
        throw new GoldenMismatchError(`the ${appliance} snapshot's header names another image`);
      await rename(temp, paths.state);
    } finally {
      await rm(temp, { force: true });
    }
    writeFileSync(paths.manifest, JSON.stringify(manifest, null, 2));
    return manifest;
  }

  /** The current snapshot's state, decompressed. */
  async load(appliance: ApplianceName): Promise<ArrayBuffer> {
    const { state, manifest } = await this.paths(appliance);
    const now = new Date();
    // Used now: pruning goes by these times.
    for (const path of [state, manifest]) utimesSync(path, now, now);
    return (await readStateFile(state)).state;
  }

  /**
   * Saves `state` as the appliance's snapshot with its manifest, then prunes the appliance's
   * stale snapshots made for other images or emulator versions. `saveStartedAt` is when capturing
   * the state began (the manifest's saveMs runs from there to the written file).
   */
  async save(
    appliance: ApplianceName,
    state: ArrayBuffer,
    machine: { memoryMiB: number; vgaMemoryMiB: number },
    timings: GoldenTimings,
    saveStartedAt = Date.now(),
  ): Promise<GoldenManifest> {
    mkdirSync(this.dir, { recursive: true });
    const paths = await this.paths(appliance);
    const { recipeHash, buildId } = await this.imageOf(appliance);
    const fileBytes = await writeStateFile(
      paths.state,
      {
        domainId: `golden-${appliance}`,
        name: `golden-${appliance}`,
        appliance,
        recipeHash,
        imageBuildId: buildId,
        kind: 'system',
        owner: null,
        memoryMiB: machine.memoryMiB,
        vgaMemoryMiB: machine.vgaMemoryMiB,
        savedAt: new Date().toISOString(),
      },
      state,
    );
    const manifest: GoldenManifest = {
      appliance,
      recipeHash,
      imageBuildId: buildId,
      v86Version: v86Version(),
      ...timings,
      saveMs: Date.now() - saveStartedAt,
      rawBytes: state.byteLength,
      fileBytes,
      createdAt: new Date().toISOString(),
    };
    writeFileSync(paths.manifest, JSON.stringify(manifest, null, 2));
    this.pruneStale(appliance, paths);
    return manifest;
  }

  /**
   * Deletes the appliance's snapshots other than `current` whose image is no longer cached
   * (images are pruned after STALE_IMAGE_DAYS unused), and any unused that long. Not at once:
   * another checkout on this machine may run another recipe and would have to rebuild its own.
   * Returns the deleted file names.
   */
  pruneStale(appliance: ApplianceName, current: GoldenPaths, now = Date.now()): string[] {
    if (!existsSync(this.dir)) return [];
    const removed: string[] = [];
    for (const file of readdirSync(this.dir)) {
      const path = join(this.dir, file);
      if (!file.startsWith(`${appliance}-`) || path === current.state || path === current.manifest)
        continue;
      // `<appliance>-<recipe hash>-v86_...`: the image it was made from is `<appliance>-<hash>`.
      const imageDir = join(this.imagesDir, file.split('-').slice(0, 2).join('-'));
      const unused = now - statSync(path).mtimeMs > STALE_IMAGE_DAYS * 86_400_000;
      if (!existsSync(imageDir) || unused) {
        rmSync(path, { force: true });
        removed.push(file);
      }
    }
    return removed;
  }
}
