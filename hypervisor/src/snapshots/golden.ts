// Golden snapshots ("virtual appliances saved suspended"): each appliance is cold-booted once
// to the point where its guest agent says it is ready and its screen has settled, then saved
// compressed (golden-store.ts). Every new VM of that appliance resumes from it instead of
// booting. The domains it boots come from a factory: the running host's, or a bare one for
// `npm start`'s setup (host/golden-domains.ts).
import type pino from 'pino';
import type { ApplianceName } from '../api/protocol.ts';
import type { PeerHosts } from '../peer-hosts.ts';
import { fetchGoldenFromPeers } from './golden-peers.ts';
import type { GoldenManifest, GoldenStore } from './golden-store.ts';
import type { SharedGolden } from './saved-state.ts';

export type { GoldenManifest } from './golden-store.ts';

export type GoldenProgress = (phase: 'boot' | 'settle' | 'save' | 'done', detail: string) => void;

/** What building a snapshot needs of a domain. */
export interface GoldenDomain {
  readonly id: string;
  readonly spec: { readonly memoryMiB: number; readonly vgaMemoryMiB: number };
  waitForAgentEvent(pattern: RegExp, timeoutMs: number): Promise<string>;
  on(event: 'frame', listener: () => void): unknown;
  off(event: 'frame', listener: () => void): unknown;
  watch(watcherId: string): void;
  unwatch(watcherId: string): void;
  captureState<T>(stop: boolean, persist: (state: ArrayBuffer) => Promise<T>): Promise<T>;
}

export interface GoldenDomainFactory {
  /** A system domain of `appliance`, cold-booted (not from a snapshot). */
  coldBoot(appliance: ApplianceName): Promise<GoldenDomain>;
  destroy(domain: GoldenDomain): Promise<void>;
}

export interface GoldenTimeouts {
  /** How long the guest may take to report ready. */
  readyMs: number;
  /** The screen counts as settled after this long without a changed tile... */
  settleQuietMs: number;
  /** ...or after this long at most. */
  settleMaxMs: number;
}

const DEFAULT_TIMEOUTS: GoldenTimeouts = {
  readyMs: 15 * 60_000,
  settleQuietMs: 3_000,
  settleMaxMs: 60_000,
};

export class GoldenSnapshots {
  private readonly loaded = new Map<ApplianceName, Promise<SharedGolden>>();
  private readonly building = new Map<ApplianceName, Promise<GoldenManifest>>();

  constructor(
    readonly store: GoldenStore,
    private readonly factory: GoldenDomainFactory,
    private readonly log: pino.Logger,
    private readonly timeouts: GoldenTimeouts = DEFAULT_TIMEOUTS,
    /** In a fleet: peers to fetch a missing snapshot from before building it. */
    private readonly peers: PeerHosts | null = null,
  ) {}

  /** The current snapshot's manifest, or null when it is not built. */
  manifest(appliance: ApplianceName): Promise<GoldenManifest | null> {
    return this.store.manifest(appliance);
  }

  /**
   * The decompressed golden state, built first if missing; kept in memory once loaded, in a
   * SharedArrayBuffer: workers restore from it and diff against it without a copy of their own.
   */
  shared(appliance: ApplianceName): Promise<SharedGolden> {
    let golden = this.loaded.get(appliance);
    if (!golden) {
      golden = this.ensure(appliance).then(async (manifest) => {
        const state = await this.store.load(appliance);
        const shared = new SharedArrayBuffer(state.byteLength);
        new Uint8Array(shared).set(new Uint8Array(state));
        return { id: goldenId(manifest), state: shared };
      });
      golden.catch(() => this.loaded.delete(appliance));
      this.loaded.set(appliance, golden);
    }
    return golden;
  }

  /** The shared golden state (see `shared`). */
  async state(appliance: ApplianceName): Promise<SharedArrayBuffer> {
    return (await this.shared(appliance)).state;
  }

  /** The shared golden, if the snapshot is built already; never builds one. */
  async sharedIfBuilt(appliance: ApplianceName): Promise<SharedGolden | null> {
    if (!this.loaded.has(appliance) && !(await this.store.find(appliance))) return null;
    return this.shared(appliance);
  }

  /** Loads a snapshot that is built already, so the first VM need not wait for disk and zstd. */
  async preload(appliance: ApplianceName): Promise<GoldenManifest | null> {
    const manifest = await this.store.find(appliance);
    if (manifest) await this.shared(appliance);
    return manifest;
  }

  /**
   * Makes sure the golden snapshot is in the store: there already, else fetched from a peer (a
   * fleet), else built; one at a time per appliance.
   */
  ensure(appliance: ApplianceName, onProgress?: GoldenProgress): Promise<GoldenManifest> {
    let build = this.building.get(appliance);
    if (!build) {
      build = (async () => {
        return (
          (await this.store.find(appliance)) ??
          (this.peers
            ? await fetchGoldenFromPeers({
                store: this.store,
                appliance,
                source: this.peers,
                log: this.log,
              })
            : null) ??
          this.build(appliance, onProgress)
        );
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
    const log = this.log.child({ golden: appliance });
    onProgress?.('boot', `cold-booting ${appliance}`);
    const started = Date.now();
    const domain = await this.factory.coldBoot(appliance);
    try {
      const ready = new RegExp(`^\\* ready ${appliance}\\b`);
      await domain.waitForAgentEvent(ready, this.timeouts.readyMs);
      const coldBootMs = Date.now() - started;
      log.info({ coldBootMs }, 'guest reported ready');

      onProgress?.('settle', 'waiting for the screen to settle');
      const settleStarted = Date.now();
      await this.waitForQuietScreen(domain);
      const settleMs = Date.now() - settleStarted;

      onProgress?.('save', 'saving state');
      const saveStarted = Date.now();
      const state = await domain.captureState(false, async (captured) => captured);
      const manifest = await this.store.save(
        appliance,
        state,
        domain.spec,
        { coldBootMs, settleMs },
        saveStarted,
      );
      log.info(manifest, 'golden snapshot saved');
      onProgress?.('done', `${(manifest.fileBytes / 2 ** 20).toFixed(1)} MiB`);
      return manifest;
    } finally {
      await this.factory.destroy(domain).catch(() => undefined);
    }
  }

  /** Resolves once no screen tile has changed for a while (or after the settle maximum). */
  private async waitForQuietScreen(domain: GoldenDomain): Promise<void> {
    const watcher = 'golden-snapshot';
    const { settleQuietMs, settleMaxMs } = this.timeouts;
    let lastChange = Date.now();
    const onFrame = () => (lastChange = Date.now());
    domain.on('frame', onFrame);
    domain.watch(watcher);
    const deadline = Date.now() + settleMaxMs;
    try {
      while (Date.now() - lastChange < settleQuietMs && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(250, settleQuietMs)));
      }
    } finally {
      domain.off('frame', onFrame);
      domain.unwatch(watcher);
    }
  }
}

/** What names one golden snapshot: its image build and the moment it was made. */
function goldenId(manifest: GoldenManifest): string {
  return `${manifest.imageBuildId}@${manifest.createdAt}`;
}
