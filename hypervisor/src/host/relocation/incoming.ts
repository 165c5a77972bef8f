// The receiving side of a relocation: a worker that waits with zeroed memory, pages written
// into it as they come, the overlay file written as it grows (into a side file, renamed into
// place only at the end), and, on `prepare`, the device state restored over that memory with
// the guest held paused. Until then an abort, a dropped sender connection or silence drops
// everything received, so a failed relocation leaves nothing behind here.
//
// The hand-over is a two-phase commit in which the sender decides: a prepared guest runs only
// on `commit`, and is dropped only on `abort`. A prepared guest that hears neither (the
// sender's connection dropped, or it went silent) asks the sender (`relocation:decision`) until
// it gets an answer, and stays paused meanwhile: it never guesses, so the guest never runs on
// both hosts.
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { performance } from 'node:perf_hooks';
import type pino from 'pino';
import type { ImageIdentity } from '../../appliances/index.ts';
import type { z } from 'zod';
import type {
  DomainInfo,
  RelocationBegun,
  RelocationDecision,
  RelocationPrepared,
  relocationBeginSchema,
} from '../../api/protocol.ts';
import { PRIVATE_FILE_MODE } from '../../private-files.ts';
import type { OverlayBase } from '../../worker/devices/disk/overlay-store.ts';
import type { RelocationPages } from '../../worker/messages.ts';
import type { Domain, DomainSpec } from '../domain.ts';
import { HostError } from '../errors.ts';
import { faultPoint } from './faults.ts';

/** A relocation whose sender said nothing for this long is dropped (before `prepare`). */
const IDLE_TIMEOUT_MS = 30_000;
/** The worker the guest arrives in must hold its memory within this long (as a boot). */
const READY_TIMEOUT_MS = 120_000;
/** A prepared guest that heard no commit for this long asks the sender, then again as often. */
const DECISION_ASK_MS = 3_000;
/** Committed relocations remembered, so a commit sent again is answered the same way. */
const COMMITTED_KEPT = 64;
const PAGE_BYTES = 4096;

export type RelocationBegin = z.output<typeof relocationBeginSchema>;

/**
 * Page chunks as received (u32 little-endian page numbers, then their data) joined into one
 * batch in aligned arrays (socket.io hands binary over as Buffers at any offset); null if none.
 */
function joinPages(chunks: Array<{ pages: Uint8Array; data: Uint8Array }>): RelocationPages | null {
  for (const { pages, data } of chunks) {
    if (pages.length % 4 !== 0 || data.length !== (pages.length / 4) * PAGE_BYTES) {
      throw new HostError('bad_request', 'page numbers and page data do not match');
    }
  }
  if (chunks.length === 0) return null;
  const numbers = new Uint8Array(Buffer.concat(chunks.map((c) => c.pages)));
  return {
    pages: new Uint32Array(numbers.buffer, 0, numbers.length / 4),
    data: new Uint8Array(Buffer.concat(chunks.map((c) => c.data))),
  };
}

/** What the receiving side needs of the host. */
export interface IncomingHost {
  hostId: string;
  /** A new id for a clone. */
  newId(): string;
  /** Throws when the id is in use here (a domain that is not stopped). */
  assertFree(id: string): void;
  /** Checks the appliance image and memory, registers the domain, starts its waiting worker. */
  prepare(
    spec: DomainSpec,
    image: ImageIdentity,
  ): Promise<{ domain: Domain; booted: Promise<void> }>;
  /** Where the domain's durable overlay lives, and the base it must match. */
  durableDisk(domain: Domain): Promise<{ overlayPath: string; base: OverlayBase } | null>;
  /** The domain runs here now: record it and tell its guest the time (a clone: new identity). */
  adopt(domain: Domain, mode: RelocationBegin['mode']): void;
  /** Drops a domain that did not arrive, and its files. */
  discard(domain: Domain): Promise<void>;
  /** Asks the sender at `url` whether it committed the relocation `token` of domain `id`. */
  askSender(url: string, token: string, id: string): Promise<RelocationDecision>;
}

interface Incoming {
  token: string;
  mode: RelocationBegin['mode'];
  domain: Domain;
  booted: Promise<void>;
  connection: string;
  /** The overlay file being received (renamed into place at prepare), or null. */
  disk: {
    path: string;
    fd: number;
    final: string;
    base: OverlayBase;
    /** A flush of what arrived so far, run while the guest still runs at the sender. */
    flushing: Promise<void> | null;
  } | null;
  /** Where to ask for the decision, or null (wait for the sender). */
  fromUrl: string | null;
  /** The device state's first chunks, when they came before `prepare` (by index). */
  stateChunks: Uint8Array[];
  /** Restored and paused, waiting for the sender's decision. */
  prepared: boolean;
  /** Idle timeout before `prepare`; the next decision question after it. */
  timer: NodeJS.Timeout;
  /** A commit in progress (a second one joins it). */
  committing: Promise<DomainInfo> | null;
}

export class IncomingRelocations {
  private readonly sessions = new Map<string, Incoming>();
  /** Recently committed relocations and what they reported. */
  private readonly committed = new Map<string, DomainInfo>();

  constructor(
    private readonly host: IncomingHost,
    private readonly log: pino.Logger,
  ) {}

  async begin(request: RelocationBegin, connection: string): Promise<RelocationBegun> {
    const id = request.mode === 'clone' ? this.host.newId() : request.spec.id;
    if (request.mode === 'move') this.host.assertFree(id);
    const spec: DomainSpec = {
      ...request.spec,
      id,
      name: request.mode === 'clone' ? `${request.spec.name}-${id.slice(-4)}` : request.spec.name,
    };
    const { domain, booted } = await this.host.prepare(spec, {
      recipeHash: request.recipeHash,
      buildId: request.imageBuildId,
    });
    if (request.mode === 'move') domain.createdAt = new Date(request.createdAt);
    domain.sched = { ...request.sched };
    const token = randomUUID();
    let disk: Incoming['disk'] = null;
    try {
      const durable = await this.host.durableDisk(domain);
      if (durable) {
        const path = `${durable.overlayPath}.incoming`;
        const fd = openSync(path, 'w', PRIVATE_FILE_MODE);
        disk = { path, fd, final: durable.overlayPath, base: durable.base, flushing: null };
      }
    } catch (error) {
      await this.host.discard(domain);
      throw error;
    }
    const session: Incoming = {
      token,
      mode: request.mode,
      domain,
      booted,
      connection,
      disk,
      fromUrl: request.fromUrl,
      stateChunks: [],
      prepared: false,
      // Until the worker is ready (below), its start is what takes time; silence counts after.
      timer: setTimeout(() => void this.drop(token, 'its worker did not start'), READY_TIMEOUT_MS),
      committing: null,
    };
    // A worker that dies while waiting ends the relocation (a prepared guest died with it).
    booted.catch(() => void this.drop(token, 'its worker failed', true));
    this.sessions.set(token, session);
    // Answer once the worker holds the guest's memory: the sender's page calls then time
    // only the copy, not the worker's start (seconds under load).
    try {
      const ready = domain.receivePages({ pages: new Uint32Array(0), data: new Uint8Array(0) });
      await Promise.race([ready, booted]);
      clearTimeout(session.timer);
      session.timer = setTimeout(
        () => void this.drop(token, 'the sender went silent'),
        IDLE_TIMEOUT_MS,
      );
    } catch (error) {
      await this.drop(token, error instanceof Error ? error.message : String(error), true);
      throw error;
    }
    this.log.info(
      { domain: id, from: request.fromHostId, mode: request.mode },
      'relocation incoming',
    );
    return { token, hostId: this.host.hostId, id };
  }

  async pages(token: string, pages: Uint8Array, data: Uint8Array): Promise<null> {
    const session = this.session(token);
    const batch = joinPages([{ pages, data }]);
    if (batch) await session.domain.receivePages(batch);
    return null;
  }

  state(token: string, index: number, bytes: Uint8Array): null {
    const session = this.session(token);
    if (session.prepared) throw new HostError('illegal_transition', 'already prepared');
    session.stateChunks[index] = bytes;
    return null;
  }

  disk(token: string, offset: number, bytes: Uint8Array): null {
    const session = this.session(token);
    if (!session.disk) throw new HostError('bad_request', 'this domain has no durable disk');
    const disk = session.disk;
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(disk.fd, bytes, done, bytes.length - done, offset + done);
    }
    // Flush in the background as the file arrives, so the flush at prepare (inside the
    // guest's pause) finds little left to write.
    disk.flushing ??= new Promise<void>((resolve) =>
      fdatasync(disk.fd, () => {
        disk.flushing = null;
        resolve();
      }),
    );
    return null;
  }

  async diskBlocks(token: string, blocks: Uint8Array, data: Uint8Array): Promise<null> {
    const session = this.session(token);
    if (blocks.length % 4 !== 0 || data.length !== (blocks.length / 4) * PAGE_BYTES) {
      throw new HostError('bad_request', 'block numbers and block data do not match');
    }
    await session.domain.importDiskBlocks({
      blocks: new Uint32Array(new Uint8Array(blocks).buffer),
      data: new Uint8Array(data),
    });
    return null;
  }

  /**
   * Phase one: puts the disk in place and restores the device state over the received memory,
   * the guest paused. Replies how long the restore took. On failure everything is dropped.
   */
  async prepare(
    token: string,
    deviceState: { ahead: number; rest: Uint8Array[] },
    diskFileBytes: number | null,
    lastPages: Array<{ pages: Uint8Array; data: Uint8Array }> = [],
  ): Promise<RelocationPrepared> {
    const started = performance.now();
    const session = this.session(token);
    if (session.prepared) throw new HostError('illegal_transition', 'already prepared');
    clearTimeout(session.timer);
    try {
      let durable: { overlayPath: string; base: OverlayBase } | null = null;
      if (session.disk) {
        const { fd, path, final, base, flushing } = session.disk;
        await flushing;
        if (fstatSync(fd).size !== diskFileBytes) {
          throw new HostError(
            'bad_request',
            `disk overlay incomplete (${fstatSync(fd).size} of ${diskFileBytes} bytes)`,
          );
        }
        fdatasyncSync(fd);
        closeSync(fd);
        session.disk = null;
        renameSync(path, final);
        durable = { overlayPath: final, base };
      }
      const ahead = Array.from({ length: deviceState.ahead }, (_, i) => session.stateChunks[i]);
      const arrived = ahead.filter((chunk) => chunk !== undefined);
      if (session.stateChunks.length !== deviceState.ahead || arrived.length !== ahead.length) {
        throw new HostError(
          'bad_request',
          `device state incomplete (${arrived.length} of ${deviceState.ahead} chunks came ahead)`,
        );
      }
      const state = Buffer.concat([...arrived, ...deviceState.rest]);
      session.stateChunks = [];
      if (state.length === 0) throw new HostError('bad_request', 'no device state');
      const buffer = state.buffer.slice(state.byteOffset, state.byteOffset + state.byteLength);
      const pages = joinPages(lastPages);
      const worker = await session.domain.prepareIncoming(buffer as ArrayBuffer, durable, pages);
      session.prepared = true;
      session.timer = setTimeout(() => void this.askSender(token), DECISION_ASK_MS);
      faultPoint('target:prepared');
      return { ...worker, receiverMs: performance.now() - started };
    } catch (error) {
      await this.drop(token, error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  /** Phase two: the sender decided the domain is this host's; the guest runs. */
  commit(token: string): Promise<DomainInfo> {
    const done = this.committed.get(token);
    if (done) return Promise.resolve(done);
    const session = this.session(token);
    if (!session.prepared) throw new HostError('illegal_transition', 'not prepared');
    faultPoint('target:commit');
    clearTimeout(session.timer);
    session.committing ??= (async () => {
      try {
        await session.domain.runIncoming();
        await session.booted;
      } catch (error) {
        await this.drop(token, error instanceof Error ? error.message : String(error), true);
        throw error;
      }
      this.sessions.delete(token);
      this.host.adopt(session.domain, session.mode);
      const info = session.domain.info();
      this.committed.set(token, info);
      if (this.committed.size > COMMITTED_KEPT) {
        this.committed.delete(this.committed.keys().next().value!);
      }
      this.log.info({ domain: session.domain.id, mode: session.mode }, 'relocation arrived');
      return info;
    })();
    return session.committing;
  }

  async abort(token: string): Promise<null> {
    await this.drop(token, 'the sender aborted', true);
    return null;
  }

  /**
   * The sender's control connection closed: what it was sending will not finish; a prepared
   * guest asks the sender what it decided.
   */
  /** The sender's control connection closed; returns whether a relocation was arriving on it. */
  connectionClosed(connection: string): boolean {
    let arriving = false;
    for (const session of [...this.sessions.values()]) {
      if (session.connection !== connection) continue;
      arriving = true;
      if (session.prepared) {
        clearTimeout(session.timer);
        void this.askSender(session.token);
      } else {
        void this.drop(session.token, 'the sender left');
      }
    }
    return arriving;
  }

  /** A domain is arriving here and its sender has not committed it yet. */
  receiving(id: string): boolean {
    for (const session of this.sessions.values()) if (session.domain.id === id) return true;
    return false;
  }

  /** Domains held paused waiting for their sender's decision (for tests and the log). */
  get preparedCount(): number {
    return [...this.sessions.values()].filter((s) => s.prepared && !s.committing).length;
  }

  private session(token: string): Incoming {
    const session = this.sessions.get(token);
    if (!session) throw new HostError('not_found', 'no such relocation in progress');
    if (!session.prepared) session.timer.refresh();
    return session;
  }

  /** Asks the sender of a prepared guest for its decision until it gives one. */
  private async askSender(token: string): Promise<void> {
    const session = this.sessions.get(token);
    if (!session || !session.prepared || session.committing) return;
    const again = () => {
      if (this.sessions.get(token) !== session || session.committing) return;
      clearTimeout(session.timer);
      session.timer = setTimeout(() => void this.askSender(token), DECISION_ASK_MS);
    };
    if (session.fromUrl === null) {
      this.log.warn({ domain: session.domain.id }, 'prepared relocation: waiting for the sender');
      return again();
    }
    let decision: RelocationDecision;
    try {
      decision = await this.host.askSender(session.fromUrl, token, session.domain.id);
    } catch (error) {
      this.log.warn(
        { domain: session.domain.id, err: String(error) },
        'prepared relocation: the sender does not answer; the guest stays paused here',
      );
      return again();
    }
    if (this.sessions.get(token) !== session || session.committing) return;
    this.log.info(
      { domain: session.domain.id, decision },
      'prepared relocation: the sender decided',
    );
    if (decision === 'commit') await this.commit(token).catch(() => undefined);
    else if (decision === 'abort') await this.drop(token, 'the sender kept the domain', true);
    else again();
  }

  /**
   * Drops a relocation and what it received. A prepared guest is dropped only on the sender's
   * word (`decided`): on its own, this host cannot know whether the sender committed.
   */
  private async drop(token: string, reason: string, decided = false): Promise<void> {
    const session = this.sessions.get(token);
    if (!session) return;
    if (session.prepared && !decided) {
      this.log.warn({ domain: session.domain.id, reason }, 'prepared relocation kept paused');
      return;
    }
    this.sessions.delete(token);
    clearTimeout(session.timer);
    this.log.warn({ domain: session.domain.id, reason }, 'incoming relocation dropped');
    if (session.disk) {
      await session.disk.flushing;
      closeSync(session.disk.fd);
      rmSync(session.disk.path, { force: true });
    }
    await this.host.discard(session.domain).catch(() => undefined);
  }
}
