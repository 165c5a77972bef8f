// Golden snapshots ("virtual appliances saved suspended"): each appliance is cold-booted once
// to the point where its guest agent says it is ready and its screen has settled, then saved
// compressed. Every new VM of that appliance resumes from it instead of booting.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ApplianceName } from '../api/protocol.ts';
import type { Host } from '../host/host.ts';
import { STALE_IMAGE_DAYS, applianceCacheDir } from '../appliances/index.ts';
import { readStateFile, writeStateFile } from './codec.ts';

const require = createRequire(import.meta.url);
/** Bump when the way golden snapshots are made changes, so caches are rebuilt. */
const GOLDEN_FORMAT = 1;
const READY_TIMEOUT_MS = 15 * 60_000;
const SETTLE_QUIET_MS = 3_000;
const SETTLE_MAX_MS = 60_000;

export interface GoldenManifest {
  appliance: ApplianceName;
  recipeHash: string;
  v86Version: string;
  /** Wall time from power-on to the agent's ready signal. */
  coldBootMs: number;
  settleMs: number;
  saveMs: number;
  rawBytes: number;
  fileBytes: number;
  createdAt: string;
}

export type GoldenProgress = (phase: 'boot' | 'settle' | 'save' | 'done', detail: string) => void;

function v86Version(): string {
  return (require('v86/package.json') as { version: string }).version;
}

/**
 * Deletes an appliance's golden snapshots (other than `keep`) whose image is no longer cached
 * (images are pruned after STALE_IMAGE_DAYS unused), and any unused that long. Not at once:
 * another checkout on this machine may run another recipe and would have to rebuild its own.
 * Returns the deleted file names.
 */
export function pruneStaleSnapshots(
  dir: string,
  appliance: ApplianceName,
  keep: readonly string[],
  now = Date.now(),
): string[] {
  const removed: string[] = [];
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    if (!file.startsWith(`${appliance}-`) || keep.includes(path)) continue;
    // `<appliance>-<recipe hash>-v86_...`: the image it was made from is `<appliance>-<hash>`.
    const imageDir = join(applianceCacheDir(), file.split('-').slice(0, 2).join('-'));
    const unused = now - statSync(path).mtimeMs > STALE_IMAGE_DAYS * 86_400_000;
    if (!existsSync(imageDir) || unused) {
      rmSync(path, { force: true });
      removed.push(file);
    }
  }
  return removed;
}

export class GoldenSnapshots {
  private readonly loaded = new Map<ApplianceName, Promise<ArrayBuffer>>();
  private readonly building = new Map<ApplianceName, Promise<GoldenManifest>>();

  constructor(
    private readonly host: Host,
    private readonly dir: string,
  ) {}

  async paths(appliance: ApplianceName): Promise<{ state: string; manifest: string }> {
    const image = await this.host.appliance(appliance);
    const base = `${appliance}-${image.recipeHash}-v86_${v86Version()}-g${GOLDEN_FORMAT}`;
    return { state: join(this.dir, `${base}.state`), manifest: join(this.dir, `${base}.json`) };
  }

  async manifest(appliance: ApplianceName): Promise<GoldenManifest | null> {
    const { manifest } = await this.paths(appliance);
    if (!existsSync(manifest)) return null;
    return JSON.parse(readFileSync(manifest, 'utf8')) as GoldenManifest;
  }

  /** The decompressed golden state, built first if missing; kept in memory once loaded. */
  state(appliance: ApplianceName): Promise<ArrayBuffer> {
    let state = this.loaded.get(appliance);
    if (!state) {
      state = (async () => {
        await this.ensure(appliance);
        const { state: file, manifest } = await this.paths(appliance);
        const now = new Date();
        // Used now: stale-snapshot pruning goes by these times.
        for (const path of [file, manifest]) utimesSync(path, now, now);
        return (await readStateFile(file)).state;
      })();
      state.catch(() => this.loaded.delete(appliance));
      this.loaded.set(appliance, state);
    }
    return state;
  }

  /** Builds the golden snapshot if it is not in the cache yet. */
  ensure(appliance: ApplianceName, onProgress?: GoldenProgress): Promise<GoldenManifest> {
    let build = this.building.get(appliance);
    if (!build) {
      build = (async () => {
        const existing = await this.manifest(appliance);
        const { state } = await this.paths(appliance);
        if (existing && existsSync(state)) return existing;
        return this.build(appliance, onProgress);
      })();
      build.finally(() => this.building.delete(appliance)).catch(() => undefined);
      this.building.set(appliance, build);
    }
    return build;
  }

  private async build(
    appliance: ApplianceName,
    onProgress?: GoldenProgress,
  ): Promise<GoldenManifest> {
    mkdirSync(this.dir, { recursive: true });
    const image = await this.host.appliance(appliance);
    const paths = await this.paths(appliance);
    const log = this.host.log.child({ golden: appliance });
    onProgress?.('boot', `cold-booting ${appliance}`);
    const started = Date.now();
    const domain = await this.host.create({
      appliance,
      coldBoot: true,
      kind: 'system',
      name: `golden-${appliance}`,
    });
    try {
      await domain.waitForAgentEvent(new RegExp(`^\\* ready ${appliance}\\b`), READY_TIMEOUT_MS);
      const coldBootMs = Date.now() - started;
      log.info({ coldBootMs }, 'guest reported ready');

      onProgress?.('settle', 'waiting for the screen to settle');
      const settleStarted = Date.now();
      await this.waitForQuietScreen(domain);
      const settleMs = Date.now() - settleStarted;

      onProgress?.('save', 'saving state');
      const saveStarted = Date.now();
      const state = await domain.captureState(false, async (captured) => captured);
      const fileBytes = await writeStateFile(
        paths.state,
        {
          domainId: `golden-${appliance}`,
          name: `golden-${appliance}`,
          appliance,
          recipeHash: image.recipeHash,
          kind: 'system',
          owner: null,
          memoryMiB: domain.spec.memoryMiB,
          vgaMemoryMiB: domain.spec.vgaMemoryMiB,
          savedAt: new Date().toISOString(),
        },
        state,
      );
      const manifest: GoldenManifest = {
        appliance,
        recipeHash: image.recipeHash,
        v86Version: v86Version(),
        coldBootMs,
        settleMs,
        saveMs: Date.now() - saveStarted,
        rawBytes: state.byteLength,
        fileBytes,
        createdAt: new Date().toISOString(),
      };
      writeFileSync(paths.manifest, JSON.stringify(manifest, null, 2));
      pruneStaleSnapshots(this.dir, appliance, [paths.state, paths.manifest]);
      log.info(manifest, 'golden snapshot saved');
      onProgress?.('done', `${(fileBytes / 2 ** 20).toFixed(1)} MiB`);
      return manifest;
    } finally {
      await this.host.destroy(domain.id).catch(() => undefined);
    }
  }

  /** Resolves once no screen tile has changed for SETTLE_QUIET_MS (or after SETTLE_MAX_MS). */
  private async waitForQuietScreen(domain: import('../host/domain.ts').Domain): Promise<void> {
    const watcher = 'golden-snapshot';
    let lastChange = Date.now();
    const onFrame = () => (lastChange = Date.now());
    domain.on('frame', onFrame);
    domain.watch(watcher);
    const deadline = Date.now() + SETTLE_MAX_MS;
    try {
      while (Date.now() - lastChange < SETTLE_QUIET_MS && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      domain.off('frame', onFrame);
      domain.unwatch(watcher);
    }
  }
}
