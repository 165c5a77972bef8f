// Starts a domain's worker: the boot configuration (BIOS, kernel, disk, network, v86's wasm,
// compiled once per host), the check that a durable disk still fits its base image, and telling
// the guest agent the time (and, for clones, a fresh identity) once a saved state runs again.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type pino from 'pino';
import type { DomainKind } from '../api/protocol.ts';
import type { ApplianceImage } from '../appliances/index.ts';
import type { NetworkSwitch } from '../network/switch.ts';
import type { OverlayBase } from '../worker/devices/disk/overlay-store.ts';
import type { DiskBlocks, DomainBootConfig, DomainDiskConfig } from '../worker/messages.ts';
import type { SavedState, SharedGolden } from '../snapshots/saved-state.ts';
import { checkOverlayBase } from './devices/overlay-file.ts';
import type { Domain } from './domain.ts';
import type { HostFiles } from './host-files.ts';

const require = createRequire(import.meta.url);

/** How a guest is brought up to date after its memory was restored. */
export type GuestRefresh = 'clone' | 'resume';

/** What booting needs of an appliance image. */
export type BootImage = Pick<
  ApplianceImage,
  'name' | 'kernel' | 'initrd' | 'rootfs' | 'cmdline' | 'recipeHash' | 'buildId'
>;

export interface DomainLauncherOptions {
  seabiosDir: string;
  displayFps: number;
  displayMaxFps: number;
  /** Guest pages per wasm module of v86's JIT (worker/jit-config.ts). */
  jitMaxPages: number;
  files: Pick<HostFiles, 'overlayFile'>;
  network: Pick<NetworkSwitch, 'start' | 'attach'>;
  log: pino.Logger;
}

export class DomainLauncher {
  private wasm: { path: string; module: WebAssembly.Module } | null = null;

  constructor(private readonly options: DomainLauncherOptions) {}

  /**
   * Boots `domain` (a cold boot, or from a saved state) and, for a restored state, starts
   * refreshing its guest (`domain.guestRefreshed`). A failed boot leaves the domain `crashed`.
   */
  async boot(
    domain: Domain,
    image: BootImage,
    from: SavedState | undefined,
    refresh: GuestRefresh,
    /** A memory disk's blocks as of `from` (a clone of a disposable or system VM). */
    initialDiskBlocks?: DiskBlocks,
    {
      ownsState = false,
      golden,
    }: {
      /** The caller hands `from` over: the worker takes it without a copy. */
      ownsState?: boolean;
      /** The appliance's golden snapshot: required for a delta, and lets the VM save one. */
      golden?: SharedGolden;
    } = {},
  ): Promise<void> {
    const disk = this.diskConfig(domain.id, domain.spec.kind, image);
    // On a mismatch the domain keeps its state (saved or crashed): nothing was touched, and it
    // can start once the matching image is back.
    if (disk.kind === 'durable') checkOverlayBase(disk.overlayPath, disk.base);
    try {
      await this.options.network.start();
      const config = this.bootConfig(domain, image, from, golden);
      if (initialDiskBlocks) config.initialDiskBlocks = initialDiskBlocks;
      const booted = await domain.boot(config, { ownsState });
      this.options.log.info({ domain: domain.id, ...booted }, 'domain started');
    } catch (error) {
      domain.markCrashed(error instanceof Error ? error.message : String(error));
      throw error;
    }
    if (from) {
      // A restored guest believes no time has passed; a clone of a shared snapshot also
      // shares its RNG and identity with every other clone: the agent makes it current/unique.
      domain.guestRefreshed = this.refreshGuest(domain, refresh);
    }
  }

  /** Everything the worker needs to run `domain` (the network must be started). */
  bootConfig(
    domain: Domain,
    image: BootImage,
    from?: SavedState,
    golden?: SharedGolden,
  ): DomainBootConfig {
    const wasm = this.compiledWasm();
    const { seabiosDir, displayFps, displayMaxFps, jitMaxPages, network } = this.options;
    return {
      domainId: domain.id,
      appliance: image.name,
      wasmPath: wasm.path,
      wasmModule: wasm.module,
      biosPath: join(seabiosDir, 'bios.bin'),
      vgaBiosPath: join(seabiosDir, 'vgabios-stdvga.bin'),
      kernelPath: image.kernel,
      initrdPath: image.initrd,
      rootfsPath: image.rootfs,
      disk: this.diskConfig(domain.id, domain.spec.kind, image),
      cmdline: image.cmdline,
      memoryMiB: domain.spec.memoryMiB,
      vgaMemoryMiB: domain.spec.vgaMemoryMiB,
      ...(from?.kind === 'full' ? { initialState: from.state } : {}),
      ...(from?.kind === 'delta' ? { goldenDelta: from } : {}),
      ...(golden ? { golden } : {}),
      displayFps,
      displayMaxFps,
      jitMaxPages,
      network: network.attach(domain.id, () => domain.spec.kind),
    };
  }

  /** Personal domains write to a durable overlay file; the others keep their writes in RAM. */
  diskConfig(id: string, kind: DomainKind, image: BootImage): DomainDiskConfig {
    if (kind !== 'personal') return { kind: 'memory' };
    return {
      kind: 'durable',
      overlayPath: this.options.files.overlayFile(id),
      base: baseOf(image),
    };
  }

  /** Tells the guest agent the real time and, for clones, a fresh identity and entropy. */
  async refreshGuest(domain: Domain, refresh: GuestRefresh): Promise<boolean> {
    try {
      if (refresh === 'clone') {
        const machineId = randomBytes(16).toString('hex');
        await domain.agentRequest('identity', [`rd-${domain.id}`, machineId]);
        await domain.agentRequest('entropy', [randomBytes(64).toString('hex')]);
      }
      await domain.agentRequest('time', [(Date.now() / 1000).toFixed(3)]);
      return true;
    } catch (error) {
      this.options.log.warn({ domain: domain.id, err: error }, 'guest agent did not answer');
      return false;
    }
  }

  /** v86's wasm, compiled on the first boot; every worker instantiates the same module. */
  private compiledWasm(): { path: string; module: WebAssembly.Module } {
    if (!this.wasm) {
      const path = require.resolve('v86/build/v86.wasm');
      this.wasm = { path, module: new WebAssembly.Module(readFileSync(path)) };
    }
    return this.wasm;
  }
}

/** The base image an overlay made now for `image` is tied to. */
export function baseOf(image: BootImage): OverlayBase {
  return {
    appliance: image.name,
    recipeHash: image.recipeHash,
    baseBytes: statSync(image.rootfs).size,
    imageBuildId: image.buildId,
  };
}
