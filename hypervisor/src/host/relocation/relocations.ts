// Relocation and cloning as the host runs them: moving a running domain to another host
// (outgoing.ts), copies of it here or there, draining the host, and the receiving end of those
// (incoming.ts). It keeps the two rules the rest of the host asks about: a domain being
// relocated or cloned takes no other operation, and a draining host takes no new domain.
import { constants as fsConstants, copyFileSync } from 'node:fs';
import type pino from 'pino';
import type { SharedGolden } from '../../snapshots/saved-state.ts';
import type { ImageIdentity } from '../../appliances/index.ts';
import { HypervisorClient } from '../../api/client.ts';
import type {
  ApplianceName,
  DomainInfo,
  DomainMoved,
  DrainReport,
  RelocationDecision,
  RelocationPauseBreakdown,
  RelocationReport,
} from '../../api/protocol.ts';
import type { HypervisorConfig } from '../../config.ts';
import type { NetworkSwitch } from '../../network/switch.ts';
import type { Admission } from '../admission.ts';
import type { Domain, DomainSpec } from '../domain.ts';
import type { BootImage, DomainLauncher } from '../domain-launcher.ts';
import type { DomainTable } from '../domain-table.ts';
import { HostError } from '../errors.ts';
import type { HostFiles } from '../host-files.ts';
import { IncomingRelocations } from './incoming.ts';
import { sendDomain, type SenderDecisions } from './outgoing.ts';

/** How long a host-to-host call may take during a relocation before it counts as failed. */
const PEER_CALL_TIMEOUT_MS = 20_000;
/** How long a receiver asking for a decision waits for this host's answer. */
const DECISION_CALL_TIMEOUT_MS = 5_000;
/** Decisions remembered for receivers that ask (older ones are answered from the table). */
const DECISIONS_KEPT = 256;

/** What relocation needs of the host: its parts, and the host's own domain bookkeeping. */
export interface RelocationHost {
  config: Pick<HypervisorConfig, 'hostId' | 'secret'>;
  table: Pick<DomainTable<Domain>, 'get' | 'find' | 'all' | 'holds' | 'remove' | 'newId'>;
  files: Pick<HostFiles, 'overlayFile' | 'removeDomain'>;
  admission: Pick<Admission, 'admitMemory'>;
  launcher: Pick<DomainLauncher, 'boot' | 'bootConfig' | 'diskConfig' | 'refreshGuest'>;
  network: Pick<NetworkSwitch, 'start' | 'onDomainState'>;
  appliance(name: ApplianceName): Promise<BootImage>;
  /** The appliance's golden snapshot for a VM like `spec`, when built (its saves diff against it). */
  goldenFor(spec: DomainSpec): Promise<SharedGolden | undefined>;
  /** A new domain in the table (not yet booted). */
  register(spec: DomainSpec): Domain;
  /** Records a personal domain so a restarted host brings it back. */
  remember(domain: Domain): void;
  /** Takes a clone that did not boot out of the table. */
  forget(domain: Domain): void;
  /** Removes what a domain that ended left on the host disk. */
  removeDomainFiles(domain: Domain): void;
  /** A relocation's target accepted (`moving`), or the domain runs there now (`moved`). */
  announce(event: 'moving' | 'moved', moved: DomainMoved): void;
  /** Stops keeping standby domains ready (a draining host makes none). */
  stopStandby(): void;
  log: pino.Logger;
}

export class Relocations {
  /** Relocations arriving here. */
  readonly incoming: IncomingRelocations;
  /** Domains being relocated or cloned away: other operations on them wait their turn. */
  private readonly relocating = new Set<string>();
  private drainingValue = false;
  /** This host's word on the relocations it sent, by token. */
  private readonly decisions = new Map<string, RelocationDecision>();
  /** This host's control URL as peers reach it (set once it listens). */
  private ownUrl: string | null = null;

  constructor(private readonly host: RelocationHost) {
    const { table, launcher } = host;
    this.incoming = new IncomingRelocations(
      {
        hostId: host.config.hostId,
        newId: () => table.newId(),
        assertFree: (id) => {
          const existing = table.find(id);
          if (existing && existing.state !== 'stopped') {
            throw new HostError('bad_request', `domain ${id} is already here (${existing.state})`);
          }
        },
        prepare: (spec, image) => this.prepareIncoming(spec, image),
        durableDisk: async (domain) => {
          const image = await host.appliance(domain.spec.appliance);
          const disk = launcher.diskConfig(domain.id, domain.spec.kind, image);
          return disk.kind === 'durable'
            ? { overlayPath: disk.overlayPath, base: disk.base }
            : null;
        },
        adopt: (domain, mode) => {
          host.remember(domain);
          domain.guestRefreshed = launcher.refreshGuest(
            domain,
            mode === 'clone' ? 'clone' : 'resume',
          );
        },
        discard: async (domain) => {
          if (!table.holds(domain)) return;
          if (domain.state !== 'stopped') await domain.destroy().catch(() => undefined);
          table.remove(domain);
          host.removeDomainFiles(domain);
        },
        askSender: async (url, token, id) => {
          const sender = new HypervisorClient({
            url,
            secret: host.config.secret,
            timeoutMs: DECISION_CALL_TIMEOUT_MS,
          });
          try {
            await sender.connected(DECISION_CALL_TIMEOUT_MS);
            return await sender.call('relocation:decision', { token, id });
          } finally {
            sender.close();
          }
        },
      },
      host.log.child({ component: 'relocation' }),
    );
  }

  /** Where peers reach this host's control channel (receivers ask it for decisions). */
  setOwnUrl(url: string): void {
    this.ownUrl = url;
  }

  /**
   * This host's word on relocation `token` of domain `id`, for a receiver holding it prepared.
   * A token this run of the host does not know (it restarted since) is answered from what it
   * holds: a domain it holds (its record brought it back) is its own, so the copy elsewhere is
   * dropped; one it does not hold was handed over (its record went at the commit) or died with
   * this host, and runs there.
   */
  decision(token: string, id: string): RelocationDecision {
    const known = this.decisions.get(token);
    if (known) return known;
    const held = this.host.table.find(id);
    return held && held.state !== 'stopped' ? 'abort' : 'commit';
  }

  /** How this host records its decisions; `onCommit` runs (durably) before the target runs it. */
  private decider(onCommit: () => void): SenderDecisions {
    const set = (token: string, decision: RelocationDecision) => {
      this.decisions.delete(token);
      this.decisions.set(token, decision);
      if (this.decisions.size > DECISIONS_KEPT) {
        this.decisions.delete(this.decisions.keys().next().value!);
      }
    };
    return {
      pending: (token) => set(token, 'pending'),
      commit: (token) => {
        onCommit();
        set(token, 'commit');
      },
      abort: (token) => set(token, 'abort'),
    };
  }

  /** A draining host takes no new domains (`host:drain`). */
  get draining(): boolean {
    return this.drainingValue;
  }

  /** Neither being sent from here nor arriving here (not yet committed). */
  settled(id: string): boolean {
    return !this.relocating.has(id) && !this.incoming.receiving(id);
  }

  /** Throws `illegal_transition` while the domain is being relocated or cloned. */
  assertNotRelocating(id: string): void {
    if (this.relocating.has(id)) {
      throw new HostError('illegal_transition', `domain ${id} is being relocated or cloned`);
    }
  }

  /** Throws `illegal_transition` while the host is draining. */
  assertNotDraining(): void {
    if (this.drainingValue) {
      throw new HostError(
        'illegal_transition',
        `host ${this.host.config.hostId} is draining: it takes no new domains`,
      );
    }
  }

  /**
   * Moves a running domain to the host at `to` while it runs (pre-copy, outgoing.ts). On
   * success that host owns it (same id, record and disk) and this host forgets it; on any
   * failure it keeps running here as it was.
   */
  async migrate(id: string, to: string): Promise<RelocationReport> {
    const { config, table, launcher, log } = this.host;
    const domain = table.get(id);
    if (domain.state !== 'running') {
      throw new HostError(
        'illegal_transition',
        `cannot migrate domain ${id} while it is ${domain.state}`,
      );
    }
    this.assertNotRelocating(id);
    this.relocating.add(id);
    const target = this.peer(to);
    let forgetting: Promise<void> | null = null;
    let toHostId: string | null = null;
    // Handed over: this host forgets the domain (its worker, its table entry, its files).
    const forget = async () => {
      await domain.handOver();
      if (table.holds(domain)) table.remove(domain);
      this.host.network.onDomainState(id, 'stopped');
      this.host.files.removeDomain(id, { keepConsoleLog: false });
    };
    try {
      const image = await this.host.appliance(domain.spec.appliance);
      const disk = launcher.diskConfig(id, domain.spec.kind, image);
      const sent = await sendDomain({
        domain,
        mode: 'move',
        target,
        overlayPath: disk.kind === 'durable' ? disk.overlayPath : null,
        image,
        fromHostId: config.hostId,
        fromUrl: this.ownUrl,
        // The commit point: without its record, a restart of this host does not bring it back.
        // Viewers' gateways switch now, so they watch the target as it starts running.
        decisions: this.decider(() => {
          this.host.files.removeDomain(id, { keepConsoleLog: true });
          this.host.announce('moved', { id, hostId: toHostId!, url: to });
          forgetting = forget();
        }),
        log,
        onBegun: (begun) => {
          toHostId = begun.hostId;
          this.host.announce('moving', { id, hostId: begun.hostId, url: to });
        },
      });
      await forgetting;
      const report: RelocationReport = {
        id,
        fromHostId: config.hostId,
        toHostId: sent.begun.hostId,
        toUrl: to,
        rounds: sent.rounds,
        pagesSent: sent.pagesSent,
        bytes: sent.bytes,
        diskBytes: sent.diskBytes,
        totalMs: Math.round(sent.totalMs),
        pausedMs: Math.round(sent.pausedMs),
        pause: roundAll(sent.pause),
        frozenAt: sent.frozenAt,
        info: sent.info,
      };
      log.info({ ...report, info: undefined }, 'domain relocated');
      return report;
    } catch (error) {
      if (!forgetting) throw error;
      // Committed, but the target did not confirm: it is the target's all the same (it asks
      // this host and runs it); here it must not run again.
      await forgetting;
      throw new HostError('internal', error instanceof Error ? error.message : String(error));
    } finally {
      this.relocating.delete(id);
      target.close();
    }
  }

  /**
   * `count` copies of a running domain, each with a new id, its own copy of the disk overlay and
   * (through the guest agent) a new machine-id, hostname, entropy and clock. Here, the domain
   * pauses only while its state is captured; with `to`, the copies are made there by pre-copy.
   */
  async clone(id: string, count: number, to?: string): Promise<DomainInfo[]> {
    const { table, files, launcher } = this.host;
    const domain = table.get(id);
    if (domain.state !== 'running') {
      throw new HostError(
        'illegal_transition',
        `cannot clone domain ${id} while it is ${domain.state}`,
      );
    }
    this.assertNotRelocating(id);
    this.relocating.add(id);
    try {
      const image = await this.host.appliance(domain.spec.appliance);
      const disk = launcher.diskConfig(id, domain.spec.kind, image);
      const overlayPath = disk.kind === 'durable' ? disk.overlayPath : null;
      if (to) return await this.cloneTo(domain, count, to, image, overlayPath);
      this.assertNotDraining();
      const specs: DomainSpec[] = [];
      for (let n = 0; n < count; n++) {
        const cloneId = table.newId();
        specs.push({
          ...domain.spec,
          id: cloneId,
          name: `${domain.spec.name}-${cloneId.slice(-4)}`,
        });
      }
      for (const spec of specs) await this.host.admission.admitMemory(spec);
      // While the guest is paused for its capture: its memory, and its disk as of that instant.
      const captured = await domain.captureState(false, async (state) => {
        if (overlayPath !== null) {
          for (const spec of specs) {
            copyFileSync(overlayPath, files.overlayFile(spec.id), fsConstants.COPYFILE_FICLONE);
          }
          return { state, blocks: undefined };
        }
        return { state, blocks: await domain.exportDiskBlocks() };
      });
      const clones: DomainInfo[] = [];
      for (const spec of specs) {
        const clone = this.host.register(spec);
        clone.sched = { ...domain.sched };
        this.host.remember(clone);
        try {
          // The last clone takes the captured state over instead of a copy.
          const ownsState = spec === specs.at(-1);
          const golden = await this.host.goldenFor(spec);
          const from = { kind: 'full' as const, state: captured.state };
          await launcher.boot(clone, image, from, 'clone', captured.blocks, {
            ownsState,
            ...(golden ? { golden } : {}),
          });
        } catch (error) {
          this.host.forget(clone);
          this.host.removeDomainFiles(clone);
          throw error;
        }
        clones.push(clone.info());
      }
      return clones;
    } finally {
      this.relocating.delete(id);
    }
  }

  /**
   * Marks this host draining (it refuses new domains) and moves each running domain to `to`.
   * Domains that are not running (saved, crashed) stay, reported as not moved.
   */
  async drain(to: string): Promise<DrainReport> {
    this.drainingValue = true;
    this.host.stopStandby();
    const report: DrainReport = { moved: [], failed: [] };
    for (const domain of this.host.table.all()) {
      if (domain.state === 'stopped') continue;
      if (domain.state !== 'running') {
        report.failed.push({ id: domain.id, error: `it is ${domain.state}, not running` });
        continue;
      }
      try {
        report.moved.push(await this.migrate(domain.id, to));
      } catch (error) {
        report.failed.push({
          id: domain.id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return report;
  }

  /** Takes new domains again after a drain. */
  undrain(): void {
    this.drainingValue = false;
  }

  private peer(url: string): HypervisorClient {
    return new HypervisorClient({
      url,
      secret: this.host.config.secret,
      timeoutMs: PEER_CALL_TIMEOUT_MS,
    });
  }

  private async cloneTo(
    domain: Domain,
    count: number,
    to: string,
    image: ImageIdentity,
    overlayPath: string | null,
  ): Promise<DomainInfo[]> {
    const clones: DomainInfo[] = [];
    for (let n = 0; n < count; n++) {
      const target = this.peer(to);
      try {
        const sent = await sendDomain({
          domain,
          mode: 'clone',
          target,
          overlayPath,
          image,
          fromHostId: this.host.config.hostId,
          fromUrl: this.ownUrl,
          decisions: this.decider(() => undefined),
          log: this.host.log,
        });
        clones.push(sent.info);
      } finally {
        target.close();
      }
    }
    return clones;
  }

  /** A domain about to arrive by relocation: admitted, registered, its worker waiting. */
  private async prepareIncoming(
    spec: DomainSpec,
    runsOn: ImageIdentity,
  ): Promise<{ domain: Domain; booted: Promise<void> }> {
    this.assertNotDraining();
    const image = await this.host.appliance(spec.appliance);
    if (image.recipeHash !== runsOn.recipeHash) {
      throw new HostError(
        'appliance_unavailable',
        `this host has ${spec.appliance} image ${image.recipeHash}, the domain runs on ${runsOn.recipeHash}`,
      );
    }
    if (image.buildId !== runsOn.buildId) {
      // Same recipe, built apart: block by block another file system than the guest's.
      throw new HostError(
        'appliance_unavailable',
        `this host built its own ${spec.appliance} image ${image.recipeHash} (build ` +
          `${image.buildId}); the domain runs on build ${runsOn.buildId}. Hosts that move VMs ` +
          `between them share one image cache (RAYDESK_CACHE_DIR).`,
      );
    }
    await this.host.admission.admitMemory(spec);
    const domain = this.host.register(spec);
    await this.host.network.start();
    const config = {
      ...this.host.launcher.bootConfig(domain, image, undefined, await this.host.goldenFor(spec)),
      disk: { kind: 'memory' as const },
      incoming: true,
    };
    const booted = domain.boot(config).then(() => undefined);
    booted.catch(() => undefined);
    return { domain, booted };
  }
}

function roundAll(pause: RelocationPauseBreakdown): RelocationPauseBreakdown {
  const rounded = { ...pause };
  for (const key of Object.keys(rounded) as Array<keyof RelocationPauseBreakdown>) {
    rounded[key] = Math.round(rounded[key]);
  }
  return rounded;
}
