// The sending side of a live relocation, pre-copy as in Clark et al. (NSDI 2005): while the
// guest runs, its memory is sent in rounds, each round resending the pages written since they
// were sent (the worker finds them against a shadow copy, dirty-pages.ts); when a round leaves
// little, or rounds stop shrinking, the guest is frozen, the rest of its memory, its disk's
// tail and its device state go over, and the target restores it, paused (prepare).
//
// The hand-over is a two-phase commit decided here: once the target is prepared, this host
// records the decision (for a move, the domain's record here is removed: a restart of this host
// no longer brings it back), and only then tells the target to run it (commit). Before that
// record, any failure aborts the target's copy and thaws the guest here; after it, the guest is
// the target's, and the commit is repeated until the target confirms (a target that heard
// nothing asks this host, `relocation:decision`).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type pino from 'pino';
import type { ImageIdentity } from '../../appliances/index.ts';
import type { HypervisorClient } from '../../api/client.ts';
import type { CallRequest, CallResponse, ControlCall } from '../../api/contract.ts';
import {
  RELOCATION_CHUNK_BYTES,
  RELOCATION_MAX_ATTACHMENTS,
  type DomainInfo,
  type RelocationBegun,
  type RelocationPauseBreakdown,
} from '../../api/protocol.ts';
import type { Domain } from '../domain.ts';
import { faultPoint } from './faults.ts';
import { stopwatch } from '../../stopwatch.ts';

const PAGE_BYTES = 4096;
/** Pages the worker collects per scan request (4 MiB), then sent in chunks. */
const SCAN_PAGES = 1024;
const CHUNK_PAGES = RELOCATION_CHUNK_BYTES / PAGE_BYTES;
/** Chunks in flight at once: enough to keep the link busy, few enough to bound memory. */
const WINDOW = 4;
/** Stop and copy once a round found this few pages (4 MiB)... */
const STOP_PAGES = 1024;
/** ...or after this many rounds, or when a round did not shrink by a tenth. */
const MAX_ROUNDS = 8;
/** The target's answer to `begin` waits for the worker the guest arrives in to start. */
const BEGIN_TIMEOUT_MS = 120_000;
/** A commit the target did not confirm is sent again this often, this many times. */
const COMMIT_RETRY_MS = 1_000;
const COMMIT_ATTEMPTS = 20;
const COMMIT_CALL_TIMEOUT_MS = 5_000;

/** This host's word on the relocations it sends (served as `relocation:decision`). */
export interface SenderDecisions {
  pending(token: string): void;
  /** Records the commit durably before the target is told to run the guest. */
  commit(token: string): void;
  abort(token: string): void;
}

export interface OutgoingOptions {
  domain: Domain;
  mode: 'move' | 'clone';
  target: HypervisorClient;
  /** The durable overlay file, or null for a memory disk. */
  overlayPath: string | null;
  /** The image the domain runs on; the target must boot the very same build. */
  image: ImageIdentity;
  fromHostId: string;
  /** This host's control URL, where the target asks for the decision; null if unknown. */
  fromUrl: string | null;
  decisions: SenderDecisions;
  log: pino.Logger;
  /** The target accepted: viewers' gateways may connect to it before the guest pauses. */
  onBegun?: (begun: RelocationBegun) => void;
}

export interface OutgoingResult {
  begun: RelocationBegun;
  info: DomainInfo;
  rounds: number;
  pagesSent: number;
  bytes: number;
  diskBytes: number;
  totalMs: number;
  pausedMs: number;
  pause: RelocationPauseBreakdown;
  frozenAt: number;
}

/** Sends `domain` to the target; on failure the target's copy is dropped and the guest runs here. */
export async function sendDomain(options: OutgoingOptions): Promise<OutgoingResult> {
  return new OutgoingRelocation(options).run();
}

class OutgoingRelocation {
  private bytes = 0;
  private pagesSent = 0;
  private diskSent = 0;
  private frozen = false;
  private lose: (error: Error) => void = () => undefined;
  /** Rejects when the connection to the target drops: calls in flight then fail at once. */
  private readonly lost = new Promise<never>((_, reject) => (this.lose = reject));
  private readonly onDisconnect = (reason: string) => {
    this.lose(new Error(`lost the connection to the target host (${reason})`));
  };

  constructor(private readonly options: OutgoingOptions) {
    this.lost.catch(() => undefined);
  }

  async run(): Promise<OutgoingResult> {
    const { domain, target, log, decisions } = this.options;
    const started = performance.now();
    await target.connected();
    target.socket.on('disconnect', this.onDisconnect);
    let begun: RelocationBegun | null = null;
    let committed = false;
    try {
      // The target starts the worker the guest arrives in before it answers: under load that
      // takes longer than other calls may.
      begun = await this.call(
        'relocation:begin',
        {
          mode: this.options.mode,
          spec: { ...domain.spec },
          createdAt: domain.createdAt.toISOString(),
          recipeHash: this.options.image.recipeHash,
          imageBuildId: this.options.image.buildId,
          sched: { ...domain.sched },
          fromHostId: this.options.fromHostId,
          fromUrl: this.options.fromUrl,
        },
        BEGIN_TIMEOUT_MS,
      );
      const token = begun.token;
      decisions.pending(token);
      this.options.onBegun?.(begun);
      await this.sendDisk(token);
      let rounds = 0;
      let previous = Infinity;
      for (;;) {
        const found = await this.sendRound(token);
        rounds++;
        await this.sendDisk(token);
        log.debug({ domain: domain.id, round: rounds, pages: found }, 'relocation round');
        if (rounds > 1 && (found <= STOP_PAGES || rounds >= MAX_ROUNDS || found > previous * 0.9))
          break;
        previous = found;
      }
      const lap = stopwatch();
      const frozenAt = Date.now();
      // Stop and copy: the guest stops, and its last pages and device state come in the same
      // worker turn; they go to the target in the prepare call itself.
      this.frozen = true;
      const last = await domain.relocationStopAndCopy();
      const stopAndCopyMs = lap();
      const diskFileBytes = await this.sendDisk(token);
      if (this.options.overlayPath === null) await this.sendDiskBlocks(token);
      const diskMs = lap();
      const pages = this.chunkPages(last);
      const deviceState: Uint8Array[] = [];
      const state = new Uint8Array(last.deviceState);
      for (let at = 0; at < state.length; at += RELOCATION_CHUNK_BYTES) {
        deviceState.push(state.subarray(at, at + RELOCATION_CHUNK_BYTES));
      }
      this.bytes += state.length;
      // The prepare call carries as much as its binary parts allow: the device state's last
      // chunks, then the last pages (two parts a chunk). The rest goes just before it.
      const stateAhead = deviceState.splice(
        0,
        Math.max(0, deviceState.length - RELOCATION_MAX_ATTACHMENTS),
      );
      const room = Math.floor((RELOCATION_MAX_ATTACHMENTS - deviceState.length) / 2);
      const pagesAhead = pages.splice(0, Math.max(0, pages.length - room));
      await this.inWindow([
        ...stateAhead.map(
          (bytes, index) => () => this.call('relocation:state', { token, index, bytes }),
        ),
        ...pagesAhead.map((chunk) => () => this.call('relocation:pages', { token, ...chunk })),
      ]);
      log.info(
        {
          domain: domain.id,
          deviceStateBytes: state.length,
          chunksAhead: stateAhead.length + pagesAhead.length,
        },
        'relocation prepare',
      );
      const prepared = await this.call('relocation:prepare', {
        token,
        deviceState,
        deviceStateAhead: stateAhead.length,
        diskFileBytes,
        pages,
      });
      const freezeMs = stopAndCopyMs - last.scanMs - last.deviceStateMs;
      const lastRoundMs = last.scanMs;
      const lastRoundPages = last.pages.length;
      const deviceStateMs = last.deviceStateMs;
      const prepareMs = lap();
      faultPoint('source:prepared');
      // The decision: from here on the guest is the target's.
      decisions.commit(token);
      committed = true;
      faultPoint('source:committed');
      const info = await this.commit(token);
      const commitMs = lap();
      const pause = {
        freezeMs,
        lastRoundMs,
        lastRoundPages,
        diskMs,
        deviceStateMs,
        prepareMs,
        receiverMs: prepared.receiverMs,
        overlayMs: prepared.overlayMs,
        restoreMs: prepared.restoreMs,
      };
      const pausedMs = freezeMs + lastRoundMs + diskMs + deviceStateMs + prepareMs + commitMs;
      domain.endRelocation();
      if (this.options.mode === 'clone') await domain.thaw();
      return {
        begun,
        info,
        rounds,
        pagesSent: this.pagesSent,
        bytes: this.bytes,
        diskBytes: this.diskSent,
        totalMs: performance.now() - started,
        pausedMs,
        pause: { ...pause, commitMs },
        frozenAt,
      };
    } catch (error) {
      if (committed) throw error;
      log.warn({ domain: domain.id, err: error }, 'relocation failed; the domain stays here');
      if (begun) {
        const token = begun.token;
        decisions.abort(token);
        // Best effort: a target that does not hear it asks this host, and is told `abort`.
        await withTimeout(
          this.options.target.call('relocation:abort', { token }),
          COMMIT_CALL_TIMEOUT_MS,
          'no answer to the abort',
        ).catch(() => undefined);
      }
      domain.endRelocation();
      if (this.frozen) await domain.thaw();
      throw error;
    } finally {
      target.socket.off('disconnect', this.onDisconnect);
    }
  }

  /**
   * Tells the target to run the guest, again until it confirms: the decision is made, so a
   * lost connection or a slow answer is waited out, not undone.
   */
  private async commit(token: string): Promise<DomainInfo> {
    const { target, log, domain } = this.options;
    let last: unknown = null;
    for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
      try {
        return await withTimeout(
          target.call('relocation:commit', { token }),
          COMMIT_CALL_TIMEOUT_MS,
          'the target did not confirm the commit in time',
        );
      } catch (error) {
        last = error;
        log.warn(
          { domain: domain.id, attempt, err: String(error) },
          'relocation commit unconfirmed',
        );
        await new Promise((resolve) => setTimeout(resolve, COMMIT_RETRY_MS));
      }
    }
    throw new Error(
      `the move of ${domain.id} is committed but the target did not confirm it runs ` +
        `(${last instanceof Error ? last.message : String(last)}); it runs it when it asks this host`,
    );
  }

  /** Pages with their data in chunks of one binary frame each, counted as sent. */
  private chunkPages(batch: { pages: Uint32Array; data: Uint8Array }) {
    const chunks: Array<{ pages: Uint8Array; data: Uint8Array }> = [];
    for (let first = 0; first < batch.pages.length; first += CHUNK_PAGES) {
      const pages = batch.pages.subarray(first, first + CHUNK_PAGES);
      const data = batch.data.subarray(first * PAGE_BYTES, (first + pages.length) * PAGE_BYTES);
      chunks.push({
        pages: new Uint8Array(pages.buffer, pages.byteOffset, pages.byteLength),
        data,
      });
      this.bytes += pages.byteLength + data.length;
      this.pagesSent += pages.length;
    }
    return chunks;
  }

  /** One pass over guest memory: every page changed since sent. Returns how many there were. */
  private async sendRound(token: string): Promise<number> {
    let found = 0;
    for (;;) {
      const batch = await this.options.domain.relocationScan(SCAN_PAGES);
      found += batch.pages.length;
      const chunks = this.chunkPages(batch).map(
        (chunk) => () => this.call('relocation:pages', { token, ...chunk }),
      );
      await this.inWindow(chunks);
      if (batch.roundDone) return found;
    }
  }

  /** Sends what the overlay file gained since last time; returns its size, or null. */
  private async sendDisk(token: string): Promise<number | null> {
    const path = this.options.overlayPath;
    if (path === null) return null;
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const chunks: Array<() => Promise<null>> = [];
      while (this.diskSent < size) {
        const offset = this.diskSent;
        const bytes = Buffer.alloc(Math.min(RELOCATION_CHUNK_BYTES, size - offset));
        const read = readSync(fd, bytes, 0, bytes.length, offset);
        if (read !== bytes.length) throw new Error(`short read of ${path}`);
        chunks.push(() => this.call('relocation:disk', { token, offset, bytes }));
        this.diskSent += read;
        this.bytes += read;
        if (chunks.length >= WINDOW * 4) await this.inWindow(chunks.splice(0));
      }
      await this.inWindow(chunks);
      return size;
    } finally {
      closeSync(fd);
    }
  }

  /** A memory overlay goes whole while the guest is frozen. */
  private async sendDiskBlocks(token: string): Promise<void> {
    const { blocks, data } = await this.options.domain.exportDiskBlocks();
    const chunks: Array<() => Promise<null>> = [];
    for (let first = 0; first < blocks.length; first += CHUNK_PAGES) {
      const part = blocks.subarray(first, first + CHUNK_PAGES);
      const bytes = data.subarray(first * PAGE_BYTES, (first + part.length) * PAGE_BYTES);
      const index = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
      chunks.push(() => this.call('relocation:disk-blocks', { token, blocks: index, data: bytes }));
      this.bytes += bytes.length;
      this.diskSent += bytes.length;
    }
    await this.inWindow(chunks);
  }

  /** Runs the calls with at most WINDOW in flight. */
  private async inWindow(calls: Array<() => Promise<unknown>>): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < calls.length) await calls[next++]!();
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, calls.length) }, lane));
  }

  /** A call to the target that fails at once when the connection is gone. */
  private call<K extends ControlCall>(
    name: K,
    request: CallRequest<K>,
    timeoutMs?: number,
  ): Promise<CallResponse<K>> {
    return Promise.race([this.options.target.call(name, request, timeoutMs), this.lost]);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
