// The host: the domain table, memory admission, and the lifecycle operations the control
// channel and the CLI expose. It is the only owner of domains and their workers.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type pino from 'pino';
import {
  createDomainSchema,
  type ApplianceName,
  type CreateDomainRequest,
  type DomainInfo,
  type HostInfo,
} from '../api/protocol.ts';
import { ensureAppliance, type ApplianceImage } from '../appliances/index.ts';
import type { HypervisorConfig } from '../config.ts';
import type { DomainBootConfig } from '../domain/messages.ts';
import { GoldenSnapshots } from '../snapshots/golden.ts';
import { readStateFile, writeStateFile, type StateHeader } from '../snapshots/codec.ts';
import { SerialLog } from '../devices/serial/index.ts';
import { Domain, type DomainSpec } from './domain.ts';
import { HostError } from './errors.ts';
import { holdsMemory } from './lifecycle.ts';

const require = createRequire(import.meta.url);

export interface HostEvents {
  state: [DomainInfo];
}

export class Host extends EventEmitter<HostEvents> {
  readonly domains = new Map<string, Domain>();
  readonly golden: GoldenSnapshots;
  private readonly appliances = new Map<ApplianceName, Promise<ApplianceImage>>();
  /**
   * Standby domains: already resumed from the golden snapshot and paused, so a new VM of that
   * appliance only needs an unpause and a fresh identity (the "instantly runnable" appliance).
   */
  private readonly standby = new Map<ApplianceName, Promise<Domain | null>>();
  private standbyAppliances: readonly ApplianceName[] = [];
  private readonly wasmPath = require.resolve('v86/build/v86.wasm');
  private readonly wasmModule = new WebAssembly.Module(readFileSync(this.wasmPath));

  constructor(
    readonly config: HypervisorConfig,
    readonly log: pino.Logger,
  ) {
    super();
    for (const dir of ['logs', 'states']) mkdirSync(join(config.dataDir, dir), { recursive: true });
    this.golden = new GoldenSnapshots(this, join(config.cacheDir, 'golden'));
  }

  info(): HostInfo {
    const running = [...this.domains.values()].filter((d) => holdsMemory(d.state));
    return {
      hostId: this.config.hostId,
      memoryBudgetMiB: this.config.memoryBudgetMiB,
      memoryUsedMiB: this.memoryInUse(),
      domains: [...this.domains.values()].filter((d) => d.state !== 'stopped').length,
      running: running.length,
      cores: availableParallelism(),
    };
  }

  list(): DomainInfo[] {
    return [...this.domains.values()].map((d) => d.info());
  }

  get(id: string): Domain {
    const domain = this.domains.get(id);
    if (!domain || domain.state === 'stopped') throw new HostError('not_found', `no domain ${id}`);
    return domain;
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
    this.standbyAppliances = appliances;
    if (appliances.length === 0) void this.releaseStandby();
    for (const appliance of appliances) this.refillStandby(appliance);
  }

  private refillStandby(appliance: ApplianceName): void {
    if (!this.standbyAppliances.includes(appliance) || this.standby.has(appliance)) return;
    const ready = (async () => {
      const domain = await this.createDomain(
        { appliance, kind: 'system', name: `standby-${appliance}` },
        { forStandby: true },
      );
      await domain.guestRefreshed;
      await domain.pause();
      return domain;
    })().catch((error: unknown) => {
      this.log.warn({ appliance, err: error }, 'no standby domain');
      this.standby.delete(appliance);
      return null;
    });
    this.standby.set(appliance, ready);
  }

  /** Takes the appliance's standby domain if one is ready now; never waits for one. */
  private async claimStandby(
    appliance: ApplianceName,
    spec: { name?: string; kind: DomainSpec['kind']; owner: string | null },
  ): Promise<Domain | null> {
    const pending = this.standby.get(appliance);
    if (!pending) return null;
    const ready = await Promise.race([pending, Promise.resolve(null)]);
    if (!ready || ready.state !== 'paused') return null;
    this.standby.delete(appliance);
    ready.claim({ ...spec, name: spec.name ?? ready.id });
    await ready.unpause();
    ready.guestRefreshed = this.refreshGuest(ready, true);
    setImmediate(() => this.refillStandby(appliance));
    return ready;
  }

  /** Frees standby domains when a real VM needs their memory. */
  private async releaseStandby(): Promise<void> {
    const pending = [...this.standby.values()];
    this.standby.clear();
    for (const domain of await Promise.all(pending)) {
      if (domain && this.domains.has(domain.id)) await this.destroy(domain.id).catch(() => undefined);
    }
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
    const id = this.newDomainId();
    const spec: DomainSpec = {
      id,
      name: parsed.name ?? id,
      appliance: parsed.appliance,
      kind: parsed.kind,
      owner: parsed.owner,
      memoryMiB,
      vgaMemoryMiB: image.vgaMemoryMiB,
    };
    await this.admit(spec, { mayEvictStandby: !forStandby });
    // Registered before the (possibly slow) golden load, so its memory is already counted.
    const domain = this.register(spec);
    try {
      const initialState = useGolden ? await this.golden.state(parsed.appliance) : undefined;
      await this.bootDomain(domain, image, initialState);
    } catch (error) {
      if (domain.state === 'starting') this.forget(domain);
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
    domain.guestRefreshed = this.refreshGuest(domain, false);
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
    const existing = this.domains.get(header.domainId);
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
    await this.admit(spec);
    const domain = existing?.state === 'saved' ? existing : this.register(spec);
    await this.bootDomain(domain, image, state);
    return domain;
  }

  /** Restarts a crashed domain from its appliance, or resumes a saved one. */
  async start(id: string): Promise<Domain> {
    const domain = this.get(id);
    if (domain.state === 'saved' && domain.savedStateFile) return this.restore(domain.savedStateFile);
    if (domain.state !== 'crashed') {
      throw new HostError('illegal_transition', `cannot start domain ${id} while it is ${domain.state}`);
    }
    await this.admit(domain.spec, { exceptId: id });
    const image = await this.appliance(domain.spec.appliance);
    const initialState =
      domain.spec.memoryMiB === image.memoryMiB
        ? await this.golden.state(domain.spec.appliance)
        : undefined;
    await this.bootDomain(domain, image, initialState);
    return domain;
  }

  async save(id: string, file?: string): Promise<{ domain: Domain; file: string; bytes: number }> {
    const domain = this.get(id);
    const image = await this.appliance(domain.spec.appliance);
    const path = file ?? join(this.config.dataDir, 'states', `${id}.state`);
    const state = await domain.captureState(true);
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
    const bytes = await writeStateFile(path, header, state);
    domain.savedStateFile = path;
    this.log.info({ domain: id, file: path, bytes }, 'domain saved');
    return { domain, file: path, bytes };
  }

  async destroy(id: string): Promise<Domain> {
    const domain = this.get(id);
    await domain.destroy();
    this.domains.delete(id);
    return domain;
  }

  /** Stops every domain's worker; used on daemon shutdown and in tests. */
  async shutdown(): Promise<void> {
    this.standbyAppliances = [];
    await Promise.all([...this.standby.values()]);
    this.standby.clear();
    await Promise.all(
      [...this.domains.values()]
        .filter((d) => d.state !== 'stopped')
        .map((d) => d.destroy().catch(() => undefined)),
    );
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
      cmdline: image.cmdline,
      memoryMiB: domain.spec.memoryMiB,
      vgaMemoryMiB: domain.spec.vgaMemoryMiB,
      initialState,
      displayFps: this.config.displayFps,
    };
  }

  memoryInUse(exceptId?: string): number {
    let total = 0;
    for (const domain of this.domains.values()) {
      if (domain.id !== exceptId && holdsMemory(domain.state)) {
        total += domain.spec.memoryMiB + domain.spec.vgaMemoryMiB;
      }
    }
    return total;
  }

  private async admit(
    spec: DomainSpec,
    { exceptId = spec.id, mayEvictStandby = true }: { exceptId?: string; mayEvictStandby?: boolean } = {},
  ): Promise<void> {
    const needed = spec.memoryMiB + spec.vgaMemoryMiB;
    const fits = () => this.memoryInUse(exceptId) + needed <= this.config.memoryBudgetMiB;
    if (!fits() && mayEvictStandby) await this.releaseStandby();
    const used = this.memoryInUse(exceptId);
    if (!fits()) {
      throw new HostError(
        'insufficient_memory',
        `not enough host memory for ${spec.name}: it needs ${needed} MiB, ` +
          `${this.config.memoryBudgetMiB - used} MiB of the ${this.config.memoryBudgetMiB} MiB budget is free`,
      );
    }
  }

  private register(spec: DomainSpec): Domain {
    const log = new SerialLog({
      filePath: join(this.config.dataDir, 'logs', `${spec.id}.console.log`),
    });
    const domain = new Domain(spec, log);
    domain.on('state', (info) => this.emit('state', info));
    this.domains.set(spec.id, domain);
    return domain;
  }

  private async bootDomain(
    domain: Domain,
    image: ApplianceImage,
    initialState: ArrayBuffer | undefined,
  ): Promise<void> {
    try {
      const booted = await domain.boot(this.bootConfig(domain, image, initialState));
      this.log.info({ domain: domain.id, ...booted }, 'domain started');
    } catch (error) {
      domain.markCrashed(error instanceof Error ? error.message : String(error));
      throw error;
    }
    if (initialState) {
      // A restored guest believes no time has passed and shares its RNG and identity with
      // every other clone of the same snapshot: the agent makes it unique and current.
      domain.guestRefreshed = this.refreshGuest(domain, true);
    }
  }

  private forget(domain: Domain): void {
    this.domains.delete(domain.id);
    void domain.console.close();
  }

  /** Tells the guest agent the real time and, for clones, a fresh identity and entropy. */
  async refreshGuest(domain: Domain, newIdentity: boolean): Promise<boolean> {
    try {
      if (newIdentity) {
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

  private newDomainId(): string {
    for (;;) {
      const id = `vm-${randomBytes(4).toString('hex')}`;
      if (!this.domains.has(id)) return id;
    }
  }
}
