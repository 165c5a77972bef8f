// The host: the domain table, memory admission, and the lifecycle operations the control
// channel and the CLI expose. It is the only owner of domains and their workers.
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import type pino from 'pino';
import {
  createDomainSchema,
  type ApplianceName,
  type CreateDomainRequest,
  type DiskInfo,
  type DomainInfo,
  type HostInfo,
} from '../api/protocol.ts';
import { ensureAppliance, type ApplianceImage } from '../appliances/index.ts';
import type { HypervisorConfig } from '../config.ts';
import type { DomainBootConfig, DomainDiskConfig } from '../worker/messages.ts';
import { checkOverlayBase, inspectOverlay, overlayHasBlocks } from './devices/overlay-file.ts';
import type { OverlayBase } from '../worker/devices/disk/overlay-store.ts';
import { NetworkSwitch } from '../network/switch.ts';
import { GoldenSnapshots } from '../snapshots/golden.ts';
import { readStateFile, writeStateFile, type StateHeader } from '../snapshots/codec.ts';
import { SerialLog } from './devices/serial-log.ts';
import { Domain, type DomainSpec, type RecoveredDomain } from './domain.ts';
import { DomainRegistry } from './domain-registry.ts';
import { HostFiles } from './host-files.ts';
import { HostError } from './errors.ts';
import { CreditScheduler } from './scheduler.ts';
import { Admission } from './admission.ts';
import { StandbyPool } from './standby-pool.ts';
import { IdleSuspender } from './idle-suspender.ts';
import { Recovery } from './recovery.ts';
import { DomainTable } from './domain-table.ts';

const require = createRequire(import.meta.url);

export interface HostEvents {
  state: [DomainInfo];
}

/** How a guest is brought up to date after its memory was restored. */
type GuestRefresh = 'clone' | 'resume';

export class Host extends EventEmitter<HostEvents> {
  private readonly table = new DomainTable<Domain>();
  private readonly admission: Admission;
  readonly golden: GoldenSnapshots;
  /** The virtual switch every domain's NIC is connected to (egress policy, NAT, DNS). */
  readonly network: NetworkSwitch;
  /** Divides host CPU among running domains by weight and cap (scheduler.ts). */
  readonly scheduler: CreditScheduler;
  private readonly appliances = new Map<ApplianceName, Promise<ApplianceImage>>();
  private readonly standby: StandbyPool<Domain>;
  private readonly wasmPath = require.resolve('v86/build/v86.wasm');
  private readonly wasmModule = new WebAssembly.Module(readFileSync(this.wasmPath));
  private readonly files: HostFiles;
  private readonly registry: DomainRegistry;
  private readonly idle: IdleSuspender;
  private readonly recovery: Recovery<Domain>;
  /** Starts in progress, so two callers (a viewer, the recovery, the CLI) share one. */
  private readonly starting = new Map<string, Promise<Domain>>();

  constructor(
    readonly config: HypervisorConfig,
    readonly log: pino.Logger,
  ) {
    super();
    this.files = new HostFiles(config.dataDir);
    this.files.prepare();
    this.registry = new DomainRegistry(this.files);
    this.admission = new Admission({
      budgetMiB: config.memoryBudgetMiB,
      memoryInUse: (exceptId) => this.table.memoryInUse(exceptId),
      releaseReserve: () => this.standby.release(),
    });
    this.standby = new StandbyPool<Domain>(
      {
        prepare: async (appliance) => {
          const domain = await this.createDomain(
            { appliance, kind: 'system', name: `standby-${appliance}` },
            { forStandby: true },
          );
          await domain.guestRefreshed;
          await domain.pause();
          return domain;
        },
        discard: async (domain) => {
          if (this.table.has(domain.id)) await this.destroy(domain.id);
        },
      },
      log,
    );
    this.idle = new IdleSuspender({
      domains: () => this.table.all(),
      suspend: (id) => this.save(id),
      log,
    });
    this.recovery = new Recovery<Domain>({
      records: () => this.registry.load(),
      has: (id) => this.table.has(id),
      register: (spec, recovered) => this.register(spec, recovered),
      domains: () => this.table.all(),
      start: (id) => this.start(id),
      log,
    });
    this.golden = new GoldenSnapshots(this, join(config.cacheDir, 'golden'));
    this.network = new NetworkSwitch(
      { policy: config.network },
      log.child({ component: 'network' }),
    );
    this.scheduler = new CreditScheduler(
      {
        enabled: config.scheduler,
        capacityCores: availableParallelism() - config.schedReserveCores,
      },
      () => this.table.all(),
    );
    this.scheduler.start();
    // A domain without a running worker loses its switch token (and, once destroyed, its counters).
    this.on('state', (info) => this.network.onDomainState(info.id, info.state));
  }

  /**
   * Brings back the personal domains this host had before it stopped: suspended ones as
   * `saved`, the rest as `crashed` with their disks intact; those that had viewers are
   * `restartPending` and `restartRecovered()` boots them again (recovery.ts).
   */
  recover(): { saved: number; crashed: number; restartPending: number } {
    return this.recovery.recover();
  }

  /** Boots the recovered domains that were in use, one at a time, in the background. */
  restartRecovered(): Promise<void> {
    return this.recovery.restartRecovered();
  }

  /**
   * Suspends personal domains nobody has watched for `seconds` (0 turns it off): their state
   * goes to disk and their RAM is freed. The next attach or start resumes them.
   */
  enableIdleSuspend(seconds: number): void {
    this.idle.enable(seconds);
  }

  /** Resumes a suspended domain so it can be watched; other states are left as they are. */
  async ensureAwake(id: string): Promise<Domain> {
    const domain = this.get(id);
    // Being suspended right now (idle timer): let that finish, then resume it.
    if (domain.state === 'saving') await once(domain, 'state');
    if (domain.state === 'saved') return this.start(id);
    return domain;
  }

  info(): HostInfo {
    return {
      hostId: this.config.hostId,
      memoryBudgetMiB: this.config.memoryBudgetMiB,
      memoryUsedMiB: this.memoryInUse(),
      ...this.table.counts(),
      cores: availableParallelism(),
    };
  }

  list(): DomainInfo[] {
    return this.table.all().map((d) => d.info());
  }

  get(id: string): Domain {
    return this.table.get(id);
  }

  /** Input for a domain; dropped when it does not exist or does not run (as a keyboard would). */
  key(id: string, code: string, down: boolean): void {
    this.table.find(id)?.key(code, down);
  }

  pointer(id: string, x: number, y: number, buttons: number): void {
    this.table.find(id)?.pointer(x, y, buttons);
  }

  wheel(id: string, dx: number, dy: number): void {
    this.table.find(id)?.wheel(dx, dy);
  }

  appliance(name: ApplianceName): Promise<ApplianceImage> {
    const cached = this.appliances.get(name);
    if (cached) return cached;
    const image = ensureAppliance(name).catch((error: unknown) => {
      this.appliances.delete(name);
      throw new HostError(
        'appliance_unavailable',
        `appliance ${name} is not available: ${error instanceof Error ? error.message : error}`,
      );
    });
    this.appliances.set(name, image);
    return image;
  }

  /** Keeps one paused standby domain ready per listed appliance (refilled after each claim). */
  enableStandby(appliances: readonly ApplianceName[]): void {
    this.standby.enable(appliances);
  }

  /** Makes the appliance's standby domain, if one is ready now, the requested domain. */
  private async claimStandby(
    appliance: ApplianceName,
    spec: { name?: string; kind: DomainSpec['kind']; owner: string | null },
  ): Promise<Domain | null> {
    const ready = await this.standby.take(appliance);
    if (!ready) return null;
    try {
      if (spec.kind === 'personal') {
        const image = await this.appliance(appliance);
        const disk = this.diskConfig(ready.id, 'personal', image);
        if (disk.kind === 'durable') await ready.makeDiskDurable(disk.overlayPath, disk.base);
      }
    } catch (error) {
      await this.destroy(ready.id).catch(() => undefined);
      throw error;
    }
    ready.claim({ ...spec, name: spec.name ?? ready.id });
    this.remember(ready);
    await ready.unpause();
    ready.guestRefreshed = this.refreshGuest(ready, 'clone');
    setImmediate(() => this.standby.refill(appliance));
    return ready;
  }

  /** Creates and starts a domain, from the appliance's golden snapshot unless `coldBoot`. */
  async create(request: CreateDomainRequest): Promise<Domain> {
    const parsed = createDomainSchema.parse(request);
    if (!parsed.coldBoot && parsed.memoryMiB === undefined) {
      const claimed = await this.claimStandby(parsed.appliance, {
        name: parsed.name,
        kind: parsed.kind,
        owner: parsed.owner,
      });
      if (claimed) return claimed;
    }
    return this.createDomain(parsed);
  }

  private async createDomain(
    request: CreateDomainRequest,
    { forStandby = false } = {},
  ): Promise<Domain> {
    const parsed = createDomainSchema.parse(request);
    const image = await this.appliance(parsed.appliance);
    const memoryMiB = parsed.memoryMiB ?? image.memoryMiB;
    const useGolden = !parsed.coldBoot && memoryMiB === image.memoryMiB;
    const id = this.table.newId();
    const spec: DomainSpec = {
      id,
      name: parsed.name ?? id,
      appliance: parsed.appliance,
      kind: parsed.kind,
      owner: parsed.owner,
      memoryMiB,
      vgaMemoryMiB: image.vgaMemoryMiB,
    };
    await this.admission.admitMemory(spec, { mayReleaseReserve: !forStandby });
    // Registered before the (possibly slow) golden load, so its memory is already counted.
    const domain = this.register(spec);
    this.remember(domain);
    try {
      const initialState = useGolden ? await this.golden.state(parsed.appliance) : undefined;
      await this.bootDomain(domain, image, initialState, 'clone');
    } catch (error) {
      if (domain.state === 'starting') {
        this.forget(domain);
        this.removeDomainFiles(domain);
      }
      throw error;
    }
    return domain;
  }

  async pause(id: string): Promise<Domain> {
    const domain = this.get(id);
    await domain.pause();
    return domain;
  }

  /** Resumes a paused domain and tells its guest that real time has passed meanwhile. */
  async unpause(id: string): Promise<Domain> {
    const domain = this.get(id);
    await domain.unpause();
    domain.guestRefreshed = this.refreshGuest(domain, 'resume');
    return domain;
  }

  async reboot(id: string): Promise<Domain> {
    const domain = this.get(id);
    await domain.reboot();
    return domain;
  }

  /** Restores a domain from a state file written by `save`. */
  async restore(file: string): Promise<Domain> {
    const { header, state } = await readStateFile(file);
    const image = await this.appliance(header.appliance);
    if (image.recipeHash !== header.recipeHash) {
      throw new HostError(
        'bad_request',
        `${file} was saved on ${header.appliance} image ${header.recipeHash}, but this host has ` +
          `${image.recipeHash}; restoring it would corrupt the guest disk`,
      );
    }
    const existing = this.table.find(header.domainId);
    if (existing && existing.state !== 'stopped' && existing.state !== 'saved') {
      throw new HostError('bad_request', `domain ${header.domainId} is already ${existing.state}`);
    }
    const spec: DomainSpec = {
      id: header.domainId,
      name: header.name,
      appliance: header.appliance,
      kind: header.kind,
      owner: header.owner,
      memoryMiB: header.memoryMiB,
      vgaMemoryMiB: header.vgaMemoryMiB,
    };
    await this.admission.admitMemory(spec);
    const domain = existing?.state === 'saved' ? existing : this.register(spec);
    await this.bootDomain(domain, image, state, 'resume');
    // The state is consumed: once the guest runs, its disk moves on and that memory image
    // would no longer match it (the disk marker in the state refuses it anyway).
    domain.savedStateFile = null;
    if (file === this.files.stateFile(domain.id)) rmSync(file, { force: true });
    this.remember(domain);
    return domain;
  }

  /** Restarts a crashed domain from its appliance, or resumes a saved one. */
  start(id: string): Promise<Domain> {
    const inProgress = this.starting.get(id);
    if (inProgress) return inProgress;
    const started = this.startDomain(id).finally(() => this.starting.delete(id));
    this.starting.set(id, started);
    return started;
  }

  private async startDomain(id: string): Promise<Domain> {
    const domain = this.get(id);
    if (domain.state === 'saved' && domain.savedStateFile)
      return this.restore(domain.savedStateFile);
    if (domain.state !== 'crashed') {
      throw new HostError(
        'illegal_transition',
        `cannot start domain ${id} while it is ${domain.state}`,
      );
    }
    await this.admission.admitMemory(domain.spec, { exceptId: id });
    const image = await this.appliance(domain.spec.appliance);
    // A personal disk that has been written keeps its files: boot the guest on it. The golden
    // snapshot's memory belongs to a different disk and would corrupt it.
    const keepsDisk = this.hasWrittenDisk(domain);
    const initialState =
      !keepsDisk && domain.spec.memoryMiB === image.memoryMiB
        ? await this.golden.state(domain.spec.appliance)
        : undefined;
    await this.bootDomain(domain, image, initialState, 'clone');
    return domain;
  }

  async save(id: string, file?: string): Promise<{ domain: Domain; file: string; bytes: number }> {
    const domain = this.get(id);
    const image = await this.appliance(domain.spec.appliance);
    const path = file ?? this.files.stateFile(id);
    await this.admission.admitToDisk(domain.spec, dirname(path));
    const started = performance.now();
    const header: Omit<StateHeader, 'rawBytes'> = {
      domainId: id,
      name: domain.spec.name,
      appliance: domain.spec.appliance,
      recipeHash: image.recipeHash,
      kind: domain.spec.kind,
      owner: domain.spec.owner,
      memoryMiB: domain.spec.memoryMiB,
      vgaMemoryMiB: domain.spec.vgaMemoryMiB,
      savedAt: new Date().toISOString(),
    };
    const bytes = await domain.captureState(true, (state) => writeStateFile(path, header, state));
    domain.savedStateFile = path;
    this.remember(domain);
    const ms = Math.round(performance.now() - started);
    this.log.info({ domain: id, file: path, bytes, ms }, 'domain saved');
    return { domain, file: path, bytes };
  }

  /** Ends a domain for good: its worker, and its disk, state and records on this host. */
  async destroy(id: string): Promise<Domain> {
    const domain = this.get(id);
    await domain.destroy();
    this.table.remove(domain);
    this.removeDomainFiles(domain);
    return domain;
  }

  /**
   * Stops every domain's worker; used on daemon shutdown and in tests. With `suspendPersonal`,
   * running personal domains are saved first so they resume where they were on the next start.
   * Personal disks always stay; disposable domains leave nothing behind.
   */
  async shutdown({ suspendPersonal = false }: { suspendPersonal?: boolean } = {}): Promise<void> {
    this.idle.disable();
    this.scheduler.stop();
    await this.standby.stop();
    if (suspendPersonal) {
      for (const domain of this.table.all()) {
        if (domain.spec.kind !== 'personal') continue;
        if (domain.state !== 'running' && domain.state !== 'paused') continue;
        await this.save(domain.id).catch((error: unknown) =>
          this.log.error({ domain: domain.id, err: error }, 'could not save domain on stop'),
        );
      }
    }
    await Promise.all(
      this.table
        .all()
        .filter((d) => d.state !== 'stopped')
        .map(async (d) => {
          await d.destroy().catch(() => undefined);
          if (d.spec.kind !== 'personal') this.removeDomainFiles(d);
        }),
    );
    await this.network.close();
  }

  /** The domain's disk: kind, overlay size and the base image it was made on. */
  async diskInfo(id: string): Promise<DiskInfo> {
    const domain = this.get(id);
    const image = await this.appliance(domain.spec.appliance);
    const disk = this.diskConfig(domain.id, domain.spec.kind, image);
    const live = await domain.diskReport().catch(() => null);
    const unwritten = { kind: disk.kind, overlayBytes: 0, fileBytes: 0, generation: 0 };
    if (disk.kind === 'memory')
      return { ...(live ?? unwritten), base: this.baseOf(image), path: null };
    const path = disk.overlayPath;
    const file = inspectOverlay(path);
    if (!file) return { ...(live ?? unwritten), base: disk.base, path };
    // Without a worker only the file size is known: its records bound the data (-1: unknown).
    const stored = { kind: disk.kind, overlayBytes: -1, fileBytes: file.fileBytes, generation: -1 };
    return { ...(live ?? stored), base: file.base, path };
  }

  bootConfig(domain: Domain, image: ApplianceImage, initialState?: ArrayBuffer): DomainBootConfig {
    return {
      domainId: domain.id,
      appliance: image.name,
      wasmPath: this.wasmPath,
      wasmModule: this.wasmModule,
      biosPath: join(this.config.seabiosDir, 'bios.bin'),
      vgaBiosPath: join(this.config.seabiosDir, 'vgabios-stdvga.bin'),
      kernelPath: image.kernel,
      initrdPath: image.initrd,
      rootfsPath: image.rootfs,
      disk: this.diskConfig(domain.id, domain.spec.kind, image),
      cmdline: image.cmdline,
      memoryMiB: domain.spec.memoryMiB,
      vgaMemoryMiB: domain.spec.vgaMemoryMiB,
      initialState,
      displayFps: this.config.displayFps,
      network: this.network.attach(domain.id, () => domain.spec.kind),
    };
  }

  /** Guest memory held by running domains, in MiB. */
  memoryInUse(): number {
    return this.table.memoryInUse();
  }

  /** Personal domains write to a durable overlay file; the others keep their writes in RAM. */
  private diskConfig(
    id: string,
    kind: DomainSpec['kind'],
    image: ApplianceImage,
  ): DomainDiskConfig {
    if (kind !== 'personal') return { kind: 'memory' };
    return {
      kind: 'durable',
      overlayPath: this.files.overlayFile(id),
      base: this.baseOf(image),
    };
  }

  private baseOf(image: ApplianceImage): OverlayBase {
    return {
      appliance: image.name,
      recipeHash: image.recipeHash,
      baseBytes: statSync(image.rootfs).size,
    };
  }

  private hasWrittenDisk(domain: Domain): boolean {
    if (domain.spec.kind !== 'personal') return false;
    return overlayHasBlocks(this.files.overlayFile(domain.id));
  }

  /** Records a personal domain so a restarted host brings it back. */
  private remember(domain: Domain): void {
    if (domain.spec.kind !== 'personal') return;
    this.registry.save(
      domain.spec,
      domain.createdAt,
      domain.savedStateFile,
      domain.watcherCount > 0,
    );
  }

  /** Removes what a destroyed domain left on the host disk. */
  private removeDomainFiles(domain: Domain): void {
    // A disposable VM's console may show what its user did; nothing of it may outlive it.
    this.files.removeDomain(domain.id, { keepConsoleLog: domain.spec.kind === 'system' });
  }

  private register(spec: DomainSpec, recovered?: RecoveredDomain): Domain {
    const log = new SerialLog({ filePath: this.files.consoleLog(spec.id) });
    const domain = new Domain(spec, log, recovered);
    domain.on('state', (info) => this.emit('state', info));
    domain.on('cpu', (usage) => this.scheduler.report(domain.id, usage));
    // Kept current as viewers come and go, so a crash of the host knows what was in use.
    domain.on('in-use', () => {
      if (this.table.holds(domain) && domain.state !== 'stopped') {
        this.remember(domain);
      }
    });
    this.table.add(domain);
    return domain;
  }

  private async bootDomain(
    domain: Domain,
    image: ApplianceImage,
    initialState: ArrayBuffer | undefined,
    refresh: GuestRefresh,
  ): Promise<void> {
    const disk = this.diskConfig(domain.id, domain.spec.kind, image);
    // On a mismatch the domain keeps its state (saved or crashed): nothing was touched, and it
    // can start once the matching image is back.
    if (disk.kind === 'durable') checkOverlayBase(disk.overlayPath, disk.base);
    try {
      await this.network.start();
      const booted = await domain.boot(this.bootConfig(domain, image, initialState));
      this.log.info({ domain: domain.id, ...booted }, 'domain started');
    } catch (error) {
      domain.markCrashed(error instanceof Error ? error.message : String(error));
      throw error;
    }
    if (initialState) {
      // A restored guest believes no time has passed; a clone of a shared snapshot also
      // shares its RNG and identity with every other clone: the agent makes it current/unique.
      domain.guestRefreshed = this.refreshGuest(domain, refresh);
    }
  }

  private forget(domain: Domain): void {
    this.table.remove(domain);
    void domain.console.close();
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
      this.log.warn({ domain: domain.id, err: error }, 'guest agent did not answer');
      return false;
    }
  }
}
