// The host: a façade over its parts, and the lifecycle operations the control channel and the
// CLI expose. It is the only owner of domains and their workers. The parts, each with its tests:
//   domain-table.ts    the domains by id, memory in use
//   host-files.ts      where records, states, overlays and console logs live under data/
//   admission.ts       memory budget and disk space
//   standby-pool.ts    paused domains ready to be claimed
//   idle-suspender.ts  saving personal domains nobody watches
//   recovery.ts        domains the host had before it stopped
//   domain-launcher.ts boot configuration and guest refresh
//   relocation/        live relocation, cloning, drain (relocations.ts; outgoing/incoming ends)
//   ../snapshots/      golden snapshots (store, and their build over this host's domains)
import { EventEmitter, once } from 'node:events';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import type pino from 'pino';
import type { Registry } from 'prom-client';
import {
  createDomainSchema,
  type ApplianceName,
  type CreateDomainRequest,
  type DiskInfo,
  type DomainInfo,
  type DomainMoved,
  type DomainNetworkInfo,
  type DrainReport,
  type RelocationDecision,
  type RelocationReport,
  type DomainSched,
  type GuestScreenSize,
  type HostInfo,
  type KeyboardLayout,
  type ListenAddress,
  type PortForwardInfo,
  type SchedParams,
} from '../api/protocol.ts';
import type { ApplianceImage, ImageOffers } from '../appliances/index.ts';
import type { HypervisorConfig } from '../config.ts';
import { ForwardError } from '../network/port-forwards.ts';
import type { Duplex } from 'node:stream';
import { NetworkSwitch } from '../network/switch.ts';
import { GuestTransfer } from './guest-transfer.ts';
import { readSavedState, writeSavedState, type StateDescription } from '../snapshots/codec.ts';
import type { SharedGolden } from '../snapshots/saved-state.ts';
import { GoldenSnapshots, type GoldenManifest } from '../snapshots/golden.ts';
import { GoldenStore } from '../snapshots/golden-store.ts';
import { fleetPeerHosts } from './fleet-peers.ts';
import { Admission } from './admission.ts';
import { ApplianceImages } from './appliance-images.ts';
import { describeDisk, overlayHasBlocks } from './devices/overlay-file.ts';
import { SerialLog } from './devices/serial-log.ts';
import { Domain, type DomainSpec, type RecoveredDomain } from './domain.ts';
import { DomainLauncher, baseOf } from './domain-launcher.ts';
import { DomainRegistry } from './domain-registry.ts';
import { DomainTable } from './domain-table.ts';
import { HostError, notRunning } from './errors.ts';
import { HostFiles } from './host-files.ts';
import { IdleSuspender } from './idle-suspender.ts';
import { spawnDomainWorker } from './domain-worker-handle.ts';
import { SpareWorkers } from './spare-workers.ts';
import { exposeInternals } from './internals.ts';
import { registerHostMetrics } from './metrics.ts';
import { Recovery } from './recovery.ts';
import { CreditScheduler } from './scheduler.ts';
import { StandbyPool } from './standby-pool.ts';
import { stopwatch } from '../stopwatch.ts';
import type { IncomingRelocations } from './relocation/incoming.ts';
import { Relocations } from './relocation/relocations.ts';

/** xrandr under emulation takes a second or two; a loaded host may take several times that. */
const SCREEN_AGENT_TIMEOUT_MS = 30_000;

export interface HostEvents {
  state: [DomainInfo];
  /** A relocation of a domain to another host began (viewers' gateways may connect there). */
  moving: [DomainMoved];
  /** A domain left for another host (relocation): its viewers follow it there. */
  moved: [DomainMoved];
}

/**
 * A claimed standby domain's replacement starts this long after the claim: its golden restore
 * would share the cores and this event loop with the claimed desktop's viewer attaching (time to
 * desktop). A second claim meanwhile boots from the golden snapshot as without a pool.
 */
const STANDBY_REFILL_DELAY_MS = 5_000;

/** Spare domain workers a host keeps once it runs VMs (each ~40 MiB of JS heap, no guest RAM). */
const SPARE_WORKERS = 1;
/**
 * A pause up to this long leaves the guest's clock right (Linux advances its time over a TSC
 * step of up to about 10 minutes); after a longer one the guest agent sets the clock.
 */
const CLOCK_KEPT_PAUSE_MS = 60_000;

export class Host extends EventEmitter<HostEvents> {
  private readonly table = new DomainTable<Domain>();
  /** Worker threads with their modules loaded, so a resume or clone need not start one. */
  private readonly spares = new SpareWorkers(spawnDomainWorker, SPARE_WORKERS);
  private readonly files: HostFiles;
  private readonly registry: DomainRegistry;
  private readonly images: ApplianceImages;
  /** The virtual switch every domain's NIC is connected to (egress policy, NAT, DNS). */
  private readonly network: NetworkSwitch;
  /** Divides host CPU among running domains by weight and cap (scheduler.ts). */
  private readonly scheduler: CreditScheduler;
  private readonly launcher: DomainLauncher;
  private readonly admission: Admission;
  private readonly standby: StandbyPool<Domain>;
  private readonly idle: IdleSuspender;
  private readonly recovery: Recovery<Domain>;
  private readonly golden: GoldenSnapshots;
  /** Starts in progress, so two callers (a viewer, the recovery, the CLI) share one. */
  private readonly starting = new Map<string, Promise<Domain>>();
  private readonly relocations: Relocations;
  /**
   * Per appliance, the screen size a viewer last asked one of its domains for. The next standby
   * domain is switched to it before it is paused, so a user whose window is like the last one
   * gets a desktop that already fits: no resize (seconds of xrandr and a JWM restart in the
   * guest, keys held meanwhile) just after the desktop opens.
   */
  private readonly lastScreenSize = new Map<ApplianceName, GuestScreenSize>();

  /** A host on `config.dataDir`, made owner-only, with its CPU scheduler running. */
  static open(config: HypervisorConfig, log: pino.Logger): Host {
    const host = new Host(config, log);
    host.files.prepare();
    host.scheduler.start();
    return host;
  }

  /** Wires the parts; starts nothing and touches no file (see `open`). */
  private constructor(
    private readonly config: HypervisorConfig,
    private readonly log: pino.Logger,
  ) {
    super();
    // In a fleet a missing image or golden snapshot comes from a peer before it is built here.
    const peers = config.fleet
      ? fleetPeerHosts({
          databaseUrl: config.fleet.databaseUrl,
          hostId: config.hostId,
          secret: config.secret,
        })
      : null;
    this.images = new ApplianceImages({
      cacheDir: join(config.cacheDir, 'appliances'),
      peers,
      log,
    });
    this.files = new HostFiles(config.dataDir);
    this.registry = new DomainRegistry(this.files);
    this.network = new NetworkSwitch(
      { policy: config.network },
      log.child({ component: 'network' }),
    );
    // A domain without a running worker loses its switch token (and, once destroyed, its counters).
    this.on('state', (info) => this.network.onDomainState(info.id, info.state));
    this.scheduler = new CreditScheduler(
      {
        enabled: config.scheduler,
        capacityCores: availableParallelism() - config.schedReserveCores,
      },
      () => this.table.all(),
    );
    this.launcher = new DomainLauncher({
      seabiosDir: config.seabiosDir,
      displayFps: config.displayFps,
      displayMaxFps: config.displayMaxFps,
      jitMaxPages: config.jitMaxPages,
      files: this.files,
      network: this.network,
      log,
    });
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
          await this.sizeStandby(domain);
          await domain.pause();
          await this.stageStandbyDisk(domain);
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
    this.golden = new GoldenSnapshots(
      GoldenStore.inCache(config.cacheDir, (appliance) => this.appliance(appliance)),
      {
        coldBoot: (appliance) =>
          this.create({ appliance, coldBoot: true, kind: 'system', name: `golden-${appliance}` }),
        destroy: async (domain) => {
          await this.destroy(domain.id);
        },
      },
      log,
      undefined,
      peers,
    );
    this.relocations = new Relocations({
      config,
      table: this.table,
      files: this.files,
      admission: this.admission,
      launcher: this.launcher,
      network: this.network,
      appliance: (name) => this.appliance(name),
      goldenFor: (spec) => this.goldenFor(spec),
      register: (spec) => this.register(spec),
      remember: (domain) => this.remember(domain),
      forget: (domain) => this.forget(domain),
      removeDomainFiles: (domain) => this.removeDomainFiles(domain),
      announce: (event, moved) => this.emit(event, moved),
      stopStandby: () => this.standby.enable([]),
      log,
    });
    exposeInternals(this, {
      scheduler: this.scheduler,
      network: this.network,
      golden: this.golden,
    });
  }

  // ---- Host-wide ------------------------------------------------------------------------------

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

  /** Keeps one paused standby domain ready per listed appliance (refilled after each claim). */
  enableStandby(appliances: readonly ApplianceName[]): void {
    this.standby.enable(appliances);
  }

  /** This host's cached images as peers of a fleet fetch them. */
  get imageOffers(): ImageOffers {
    return this.images.offers;
  }

  /** The store of golden snapshots (peers of a fleet fetch from it). */
  get goldenStore(): GoldenStore {
    return this.golden.store;
  }

  /** The appliance's golden snapshot, or null while it is not built. */
  goldenManifest(appliance: ApplianceName): Promise<GoldenManifest | null> {
    return this.golden.manifest(appliance);
  }

  /** Loads a built golden snapshot, so the first VM of its appliance need not wait for it. */
  preloadGolden(appliance: ApplianceName): Promise<GoldenManifest | null> {
    return this.golden.preload(appliance);
  }

  info(): HostInfo {
    return {
      hostId: this.config.hostId,
      draining: this.relocations.draining,
      memoryBudgetMiB: this.config.memoryBudgetMiB,
      memoryUsedMiB: this.memoryInUse(),
      ...this.table.counts(),
      cores: availableParallelism(),
      standbyReady: this.standby.readyAppliances(),
      load: loadavg()[0]! / availableParallelism(),
    };
  }

  /**
   * Domains this host holds (not stopped) that no relocation is deciding about: a domain being
   * sent may be committed to the target any moment, and one arriving is not this host's yet.
   */
  heldDomainIds(): string[] {
    return this.table
      .all()
      .filter((d) => d.state !== 'stopped' && this.relocations.settled(d.id))
      .map((d) => d.id);
  }

  /** Guest memory held by running domains, in MiB. */
  memoryInUse(): number {
    return this.table.memoryInUse();
  }

  appliance(name: ApplianceName): Promise<ApplianceImage> {
    return this.images.get(name);
  }

  /** Adds the host's metrics (domains, memory, CPU, guest network) to `registry`. */
  registerMetrics(registry: Registry): void {
    this.network.registerMetrics(registry);
    registerHostMetrics(registry, {
      domainStates: () => this.table.all().map((d) => d.state),
      memoryInUse: () => this.memoryInUse(),
      cpuStats: () => this.scheduler.allStats(),
    });
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
    await this.spares.stop();
  }

  // ---- Domains --------------------------------------------------------------------------------

  list(): DomainInfo[] {
    return this.table.all().map((d) => d.info());
  }

  get(id: string): Domain {
    return this.table.get(id);
  }

  /** Creates and starts a domain, from the appliance's golden snapshot unless `coldBoot`. */
  async create(request: CreateDomainRequest): Promise<Domain> {
    const parsed = createDomainSchema.parse(request);
    this.relocations.assertNotDraining();
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

  /** Restarts a crashed domain from its appliance, or resumes a saved one. */
  start(id: string): Promise<Domain> {
    const inProgress = this.starting.get(id);
    if (inProgress) return inProgress;
    const started = this.startDomain(id).finally(() => this.starting.delete(id));
    this.starting.set(id, started);
    return started;
  }

  /**
   * Brings a domain to running: unpauses a paused one, resumes a saved one, boots a crashed one
   * on its disk. One the host has no record of (its record was lost) resumes from its state
   * file if the host's files hold one. Starting, running and saving domains stay as they are.
   */
  async resume(id: string): Promise<Domain> {
    const domain = this.table.find(id);
    if (!domain || domain.state === 'stopped') return this.resumeUnknown(id);
    if (domain.state === 'paused') return this.unpause(id);
    if (domain.state === 'saved' || domain.state === 'crashed') return this.start(id);
    return domain;
  }

  /** Resumes a suspended domain so it can be watched; other states are left as they are. */
  async ensureAwake(id: string): Promise<Domain> {
    const domain = this.get(id);
    // Being suspended right now (idle timer): let that finish, then resume it.
    if (domain.state === 'saving') await once(domain, 'state');
    if (domain.state === 'saved') return this.start(id);
    return domain;
  }

  async pause(id: string): Promise<Domain> {
    const domain = this.get(id);
    this.relocations.assertNotRelocating(id);
    await domain.pause();
    return domain;
  }

  /**
   * Resumes a paused domain. Its guest's clock kept real time meanwhile (v86's TSC follows the
   * host's clock), so the guest agent sets it only after a pause longer than the guest kernel's
   * clocksource spans in one step, or when the last setting failed. Setting it on every unpause
   * ran three processes in the guest (date, hwclock, date) just when it should draw: its first
   * screen change came 2-3x later.
   */
  async unpause(id: string): Promise<Domain> {
    const domain = this.get(id);
    this.relocations.assertNotRelocating(id);
    const pausedMs = await domain.unpause();
    // null while the last setting is still under way (it completes now that the guest runs).
    const lastSet = await Promise.race([domain.guestRefreshed, Promise.resolve(null)]);
    if (pausedMs > CLOCK_KEPT_PAUSE_MS || lastSet === false)
      domain.guestRefreshed = this.launcher.refreshGuest(domain, 'resume');
    return domain;
  }

  async reboot(id: string): Promise<Domain> {
    const domain = this.get(id);
    this.relocations.assertNotRelocating(id);
    await domain.reboot();
    return domain;
  }

  /** Saves the domain's state to `file` (default: its place under data/) and ends its worker. */
  async save(id: string, file?: string): Promise<{ domain: Domain; file: string; bytes: number }> {
    const domain = this.get(id);
    this.relocations.assertNotRelocating(id);
    const image = await this.appliance(domain.spec.appliance);
    const path = file ?? this.files.stateFile(id);
    await this.admission.admitToDisk(domain.spec, dirname(path));
    const started = performance.now();
    const header: StateDescription = {
      domainId: id,
      name: domain.spec.name,
      appliance: domain.spec.appliance,
      recipeHash: image.recipeHash,
      imageBuildId: image.buildId,
      kind: domain.spec.kind,
      owner: domain.spec.owner,
      memoryMiB: domain.spec.memoryMiB,
      vgaMemoryMiB: domain.spec.vgaMemoryMiB,
      savedAt: new Date().toISOString(),
    };
    // Against the golden snapshot when the VM was started with it: only the pages that differ.
    const phases = { captureMs: 0, writeMs: 0, pages: null as number | null };
    const bytes = await domain.captureSavedState(true, async (state) => {
      const captured = performance.now();
      phases.captureMs = Math.round(captured - started);
      phases.pages = state.kind === 'delta' ? state.pages.length : null;
      const written = await writeSavedState(path, header, state);
      phases.writeMs = Math.round(performance.now() - captured);
      return written;
    });
    domain.savedStateFile = path;
    this.remember(domain);
    const ms = Math.round(performance.now() - started);
    this.log.info({ domain: id, file: path, bytes, ms, ...phases }, 'domain saved');
    return { domain, file: path, bytes };
  }

  /** Restores a domain from a state file written by `save`. */
  async restore(file: string): Promise<Domain> {
    const started = performance.now();
    const { header, saved } = await readSavedState(file);
    const readMs = Math.round(performance.now() - started);
    const image = await this.appliance(header.appliance);
    if (image.recipeHash !== header.recipeHash) {
      throw new HostError(
        'bad_request',
        `${file} was saved on ${header.appliance} image ${header.recipeHash}, but this host has ` +
          `${image.recipeHash}; restoring it would corrupt the guest disk`,
      );
    }
    // States saved before builds were named carry none; those are checked by recipe alone.
    if (header.imageBuildId && header.imageBuildId !== image.buildId) {
      throw new HostError(
        'bad_request',
        `${file} was saved on another build of the ${header.appliance} image ` +
          `${header.recipeHash} (build ${header.imageBuildId}; this host's is ${image.buildId}); ` +
          `restoring it would corrupt the guest disk`,
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
    const golden = await this.goldenFor(spec);
    const domain = existing?.state === 'saved' ? existing : this.register(spec);
    if (saved.kind === 'delta' && saved.goldenId !== golden?.id) {
      // Its memory cannot be rebuilt; its disk is whole: boot it there, like after a crash.
      this.log.warn(
        { domain: domain.id, file, savedAgainst: saved.goldenId, golden: golden?.id ?? null },
        'saved state names a golden snapshot this host no longer has: booting on its disk',
      );
      domain.savedStateFile = null;
      rmSync(file, { force: true });
      this.remember(domain);
      await this.bootAfresh(domain, image);
      return domain;
    }
    await this.launcher.boot(domain, image, saved, 'resume', undefined, {
      ownsState: true,
      ...(golden ? { golden } : {}),
    });
    this.log.info(
      { domain: domain.id, kind: saved.kind, readMs, ms: Math.round(performance.now() - started) },
      'domain restored',
    );
    // The state is consumed: once the guest runs, its disk moves on and that memory image
    // would no longer match it (the disk marker in the state refuses it anyway).
    domain.savedStateFile = null;
    if (file === this.files.stateFile(domain.id)) rmSync(file, { force: true });
    this.remember(domain);
    return domain;
  }

  /** Ends a domain for good: its worker, and its disk, state and records on this host. */
  async destroy(id: string): Promise<Domain> {
    const domain = this.get(id);
    this.relocations.assertNotRelocating(id);
    await domain.destroy();
    this.table.remove(domain);
    this.removeDomainFiles(domain);
    return domain;
  }

  /** The domain's disk: kind, overlay size and the base image it was made on. */
  async diskInfo(id: string): Promise<DiskInfo> {
    const domain = this.get(id);
    const image = await this.appliance(domain.spec.appliance);
    const disk = this.launcher.diskConfig(domain.id, domain.spec.kind, image);
    const live = await domain.diskReport().catch(() => null);
    return describeDisk(disk, baseOf(image), live);
  }

  /** Reads a domain's scheduler weight and cap; with values in `update`, sets them first. */
  sched(id: string, update: Partial<SchedParams>): DomainSched {
    return this.scheduler.configure(this.get(id), update);
  }

  /** The domain's NIC, egress policy and traffic counters. */
  net(id: string): DomainNetworkInfo {
    return this.network.info(id, this.get(id).spec.kind);
  }

  /** Listens on `listen` and forwards each connection to `guestPort` of a running domain. */
  async forward(id: string, guestPort: number, listen: ListenAddress): Promise<PortForwardInfo> {
    const domain = this.get(id);
    if (domain.state !== 'running' && domain.state !== 'paused') {
      throw notRunning(domain);
    }
    return forwardErrors(() => this.network.openForward(id, guestPort, listen));
  }

  /** The domain's clipboard and file transfer (file bytes over its network when it can). */
  transferOf(domain: Domain): GuestTransfer {
    return GuestTransfer.of(domain, (guestPort) => this.openGuestStream(domain.id, guestPort));
  }

  /** A TCP stream from the host to `guestPort` of a running domain's guest. */
  async openGuestStream(id: string, guestPort: number): Promise<Duplex> {
    this.get(id);
    return forwardErrors(() => this.network.openGuestStream(id, guestPort));
  }

  /** Closes the domain's forward listening on `listen.port` (and `listen.host`, when given). */
  async unforward(id: string, listen: { host?: string; port: number }): Promise<PortForwardInfo> {
    return forwardErrors(() => this.network.closeForward(this.get(id).id, listen));
  }

  /**
   * The guest's screen size as its X server reports it; with `size`, the guest agent switches
   * the screen to it first (xrandr). The display device then reports the new mode by itself.
   */
  async screen(id: string, size?: GuestScreenSize): Promise<GuestScreenSize> {
    const domain = this.get(id);
    if (domain.state !== 'running') {
      throw notRunning(domain);
    }
    const args = size ? ['set', String(size.width), String(size.height)] : ['get'];
    // Kept when asked, not when done: under load a resize takes the guest many seconds, and
    // the desktop may be gone by then.
    if (size) this.lastScreenSize.set(domain.spec.appliance, size);
    let reply: string;
    try {
      const request = () => domain.agentRequest('screen', args, SCREEN_AGENT_TIMEOUT_MS);
      reply = await (size ? domain.whileInputHeld(request) : request());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // The agent answers this on appliances without a resizable X screen (console, browser).
      if (/no resizable screen/.test(message)) {
        this.lastScreenSize.delete(domain.spec.appliance);
        throw new HostError(
          'bad_request',
          `the ${domain.spec.appliance} appliance's screen size is fixed`,
        );
      }
      // Ended while the agent was asked (a viewer's resize racing a destroy or suspend).
      if (domain.state !== 'running') throw notRunning(domain);
      throw new HostError('internal', `domain ${id}: the guest did not set its screen: ${message}`);
    }
    const match = /^(\d+)x(\d+)$/.exec(reply.trim());
    if (!match) throw new HostError('internal', `domain ${id}: unexpected screen reply "${reply}"`);
    return { width: Number(match[1]), height: Number(match[2]) };
  }

  /** Input for a domain; dropped when it does not exist or does not run (as a keyboard would). */
  key(id: string, code: string, down: boolean): void {
    this.table.find(id)?.key(code, down);
  }

  /** A typed character; dropped like a key, and when the guest's layout cannot type it. */
  char(id: string, char: string): void {
    this.table.find(id)?.char(char);
  }

  /** Sets a running domain's X keyboard layout through its guest agent. */
  async setKeyboardLayout(id: string, layout: KeyboardLayout): Promise<KeyboardLayout> {
    const domain = this.get(id);
    if (domain.state !== 'running') {
      throw notRunning(domain);
    }
    // The guest keeps it across suspend and resume: set it only when this host has not.
    if (domain.keyboardLayout === layout) return layout;
    try {
      return await domain.setKeyboardLayout(layout);
    } catch (error) {
      // Suspended or ended while the agent was asked (a quick suspend after an open).
      if (domain.state !== 'running') throw notRunning(domain);
      const reason = error instanceof Error ? error.message : String(error);
      throw new HostError('internal', `the guest did not set the keyboard layout: ${reason}`);
    }
  }

  pointer(id: string, x: number, y: number, buttons: number): void {
    this.table.find(id)?.pointer(x, y, buttons);
  }

  wheel(id: string, dx: number, dy: number): void {
    this.table.find(id)?.wheel(dx, dy);
  }

  // ---- Relocation and cloning (relocation/relocations.ts) -------------------------------------

  /** Relocations arriving here (relocation/incoming.ts); the control server serves them. */
  get incoming(): IncomingRelocations {
    return this.relocations.incoming;
  }

  /** Whether a relocation this host sent was committed (asked by its receiver). */
  relocationDecision(token: string, id: string): RelocationDecision {
    return this.relocations.decision(token, id);
  }

  /** Where peers reach this host's control channel (a relocation's receiver asks there). */
  setControlUrl(url: string): void {
    this.relocations.setOwnUrl(url);
  }

  /** Moves a running domain to the host at `to` while it runs; on failure it stays here. */
  migrate(id: string, to: string): Promise<RelocationReport> {
    return this.relocations.migrate(id, to);
  }

  /** `count` copies of a running domain, here or (with `to`) on another host. */
  clone(id: string, count: number, to?: string): Promise<DomainInfo[]> {
    return this.relocations.clone(id, count, to);
  }

  /** Refuses new domains and moves each running domain to `to`. */
  drain(to: string): Promise<DrainReport> {
    return this.relocations.drain(to);
  }

  /** Takes new domains again after a drain. */
  undrain(): void {
    this.relocations.undrain();
  }

  // ---- Inside ---------------------------------------------------------------------------------

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
      const golden = useGolden ? await this.golden.shared(parsed.appliance) : undefined;
      await this.launcher.boot(
        domain,
        image,
        golden ? { kind: 'full', state: golden.state } : undefined,
        'clone',
        undefined,
        golden ? { golden } : {},
      );
    } catch (error) {
      if (domain.state === 'starting') {
        this.forget(domain);
        this.removeDomainFiles(domain);
      }
      throw error;
    }
    return domain;
  }

  /** Switches a standby domain being prepared to the size last asked for on its appliance. */
  private async sizeStandby(domain: Domain): Promise<void> {
    const size = this.lastScreenSize.get(domain.spec.appliance);
    if (!size) return;
    const lap = stopwatch();
    try {
      await this.screen(domain.id, size);
      this.log.debug({ domain: domain.id, ...size, ms: lap() }, 'standby domain sized');
    } catch (error) {
      // Still a good standby, at the golden snapshot's size.
      if (domain.state === 'running')
        this.log.warn({ domain: domain.id, ...size, err: error }, 'standby domain not sized');
    }
  }

  /** Makes the appliance's standby domain, if one is ready now, the requested domain. */
  private async claimStandby(
    appliance: ApplianceName,
    spec: { name?: string; kind: DomainSpec['kind']; owner: string | null },
  ): Promise<Domain | null> {
    const lap = stopwatch();
    const ready = await this.standby.take(appliance);
    if (!ready) return null;
    const claimMs: Record<string, number> = { take: lap() };
    try {
      if (spec.kind === 'personal') {
        const image = await this.appliance(appliance);
        const disk = this.launcher.diskConfig(ready.id, 'personal', image);
        // Staged while it was a standby (prepare), so this only swaps stores in the worker.
        if (disk.kind === 'durable') await ready.makeDiskDurable(disk.overlayPath, disk.base);
        claimMs.disk = lap();
      }
    } catch (error) {
      await this.destroy(ready.id).catch(() => undefined);
      throw error;
    }
    ready.claim({ ...spec, name: spec.name ?? ready.id });
    // The record's fsync runs while the worker unpauses.
    const unpaused = ready.unpause();
    try {
      this.remember(ready);
    } catch (error) {
      await unpaused.catch(() => undefined);
      throw error;
    }
    await unpaused;
    claimMs.unpause = lap();
    ready.guestRefreshed = this.launcher.refreshGuest(ready, 'clone');
    if (spec.kind !== 'personal') this.dropStagedDisk(ready);
    this.standby.refillAfter(appliance, STANDBY_REFILL_DELAY_MS);
    this.log.debug({ domain: ready.id, appliance, claimMs }, 'standby domain claimed');
    return ready;
  }

  /**
   * Prepares a standby's personal disk: a durable copy of its disk written and synced now, so a
   * claim as a personal desktop does not wait for it (the copy and sync were most of a claim).
   */
  private async stageStandbyDisk(domain: Domain): Promise<void> {
    const image = await this.appliance(domain.spec.appliance);
    const disk = this.launcher.diskConfig(domain.id, 'personal', image);
    if (disk.kind === 'durable') await domain.stageDurableDisk(disk.overlayPath, disk.base);
  }

  /** A standby claimed as a non-personal domain keeps its disk in memory: its staged copy goes. */
  private dropStagedDisk(domain: Domain): void {
    void domain
      .discardStagedDisk()
      .then(() => rm(this.files.overlayFile(domain.id), { force: true }))
      .catch((error: unknown) =>
        this.log.warn({ domain: domain.id, err: error }, 'staged standby disk not removed'),
      );
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
    await this.bootAfresh(domain, await this.appliance(domain.spec.appliance));
    return domain;
  }

  /** Boots a domain with no memory to resume: on its disk, or from the golden snapshot. */
  private async bootAfresh(domain: Domain, image: ApplianceImage): Promise<void> {
    // A personal disk that has been written keeps its files: boot the guest on it. The golden
    // snapshot's memory belongs to a different disk and would corrupt it.
    const keepsDisk =
      domain.spec.kind === 'personal' && overlayHasBlocks(this.files.overlayFile(domain.id));
    // Booting from the golden builds it if missing; on its disk, the VM takes it if it is there.
    const golden =
      domain.spec.memoryMiB !== image.memoryMiB
        ? undefined
        : keepsDisk
          ? await this.goldenFor(domain.spec)
          : await this.golden.shared(domain.spec.appliance);
    const from = golden && !keepsDisk ? { kind: 'full' as const, state: golden.state } : undefined;
    await this.launcher.boot(domain, image, from, 'clone', undefined, golden ? { golden } : {});
  }

  /**
   * The appliance's golden snapshot for a VM of its memory size, when it is built: the VM
   * saves against it, and a state saved against it restores from it.
   */
  async goldenFor(spec: DomainSpec): Promise<SharedGolden | undefined> {
    if (spec.memoryMiB !== (await this.appliance(spec.appliance)).memoryMiB) return undefined;
    return (await this.golden.sharedIfBuilt(spec.appliance)) ?? undefined;
  }

  private async resumeUnknown(id: string): Promise<Domain> {
    const file = this.files.savedState(id);
    if (!file) throw new HostError('not_found', `no domain ${id}`);
    try {
      return await this.restore(file);
    } catch (error) {
      this.log.warn({ domain: id, file, err: error }, 'unrecorded saved state not restored');
      const reason = error instanceof Error ? error.message : String(error);
      throw new HostError(
        'not_found',
        `no domain ${id} (its saved state did not restore: ${reason})`,
      );
    }
  }

  private register(spec: DomainSpec, recovered?: RecoveredDomain): Domain {
    const log = new SerialLog({ filePath: this.files.consoleLog(spec.id) });
    const domain = new Domain(spec, log, recovered, () => this.spares.take());
    domain.on('state', (info) => this.emit('state', info));
    domain.on('cpu', (usage) => this.scheduler.report(domain.id, usage));
    // Kept current as viewers come and go, so a crash of the host knows what was in use.
    domain.on('in-use', () => {
      if (this.table.holds(domain) && domain.state !== 'stopped') this.remember(domain);
    });
    this.table.add(domain);
    return domain;
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

  private forget(domain: Domain): void {
    this.table.remove(domain);
    void domain.console.close();
  }

  /** Removes what a destroyed domain left on the host disk. */
  private removeDomainFiles(domain: Domain): void {
    // A disposable VM's console may show what its user did; nothing of it may outlive it.
    this.files.removeDomain(domain.id, { keepConsoleLog: domain.spec.kind === 'system' });
  }
}

/** A forward's own errors (port in use, no such forward) reach the caller with their code. */
async function forwardErrors<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ForwardError) throw new HostError(error.code, error.message);
    throw error;
  }
}
