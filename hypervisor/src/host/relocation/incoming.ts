// The receiving side of a relocation: a worker that waits with zeroed memory, pages written
// into it as they come, the overlay file written as it grows (into a side file, renamed into
// place only at the end), and, on `finish`, the device state restored over that memory. An
// abort, a dropped sender connection or silence drops everything received, so a failed
// relocation leaves nothing behind here.
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import type pino from 'pino';
import type { z } from 'zod';
import type { DomainInfo, RelocationBegun, relocationBeginSchema } from '../../api/protocol.ts';
import { PRIVATE_FILE_MODE } from '../../private-files.ts';
import type { OverlayBase } from '../../worker/devices/disk/overlay-store.ts';
import type { Domain, DomainSpec } from '../domain.ts';
import { HostError } from '../errors.ts';

/** A relocation whose sender said nothing for this long is dropped. */
const IDLE_TIMEOUT_MS = 30_000;
const PAGE_BYTES = 4096;

export type RelocationBegin = z.output<typeof relocationBeginSchema>;

/** What the receiving side needs of the host. */
export interface IncomingHost {
  hostId: string;
  /** A new id for a clone. */
  newId(): string;
  /** Throws when the id is in use here (a domain that is not stopped). */
  assertFree(id: string): void;
  /** Checks the appliance image and memory, registers the domain, starts its waiting worker. */
  prepare(spec: DomainSpec, recipeHash: string): Promise<{ domain: Domain; booted: Promise<void> }>;
  /** Where the domain's durable overlay lives, and the base it must match. */
  durableDisk(domain: Domain): Promise<{ overlayPath: string; base: OverlayBase } | null>;
  /** The domain runs here now: record it and tell its guest the time (a clone: new identity). */
  adopt(domain: Domain, mode: RelocationBegin['mode']): void;
  /** Drops a domain that did not arrive, and its files. */
  discard(domain: Domain): Promise<void>;
}

interface Incoming {
  token: string;
  mode: RelocationBegin['mode'];
  domain: Domain;
  booted: Promise<void>;
  connection: string;
  /** The overlay file being received (renamed into place at finish), or null. */
  disk: { path: string; fd: number; final: string; base: OverlayBase } | null;
  timer: NodeJS.Timeout;
}

export class IncomingRelocations {
  private readonly sessions = new Map<string, Incoming>();

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
    const { domain, booted } = await this.host.prepare(spec, request.recipeHash);
    if (request.mode === 'move') domain.createdAt = new Date(request.createdAt);
    domain.sched = { ...request.sched };
    const token = randomUUID();
    let disk: Incoming['disk'] = null;
    try {
      const durable = await this.host.durableDisk(domain);
      if (durable) {
        const path = `${durable.overlayPath}.incoming`;
        const fd = openSync(path, 'w', PRIVATE_FILE_MODE);
        disk = { path, fd, final: durable.overlayPath, base: durable.base };
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
      timer: setTimeout(() => void this.drop(token, 'the sender went silent'), IDLE_TIMEOUT_MS),
    };
    // A worker that dies while waiting ends the relocation.
    booted.catch(() => void this.drop(token, 'its worker failed'));
    this.sessions.set(token, session);
    this.log.info(
      { domain: id, from: request.fromHostId, mode: request.mode },
      'relocation incoming',
    );
    return { token, hostId: this.host.hostId, id };
  }

  async pages(token: string, pages: Uint8Array, data: Uint8Array): Promise<null> {
    const session = this.session(token);
    if (pages.length % 4 !== 0 || data.length !== (pages.length / 4) * PAGE_BYTES) {
      throw new HostError('bad_request', 'page numbers and page data do not match');
    }
    // socket.io hands binary over as Buffers at any offset: copy into aligned arrays.
    const numbers = new Uint32Array(new Uint8Array(pages).buffer);
    await session.domain.receivePages({ pages: numbers, data: new Uint8Array(data) });
    return null;
  }

  disk(token: string, offset: number, bytes: Uint8Array): null {
    const session = this.session(token);
    if (!session.disk) throw new HostError('bad_request', 'this domain has no durable disk');
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(session.disk.fd, bytes, done, bytes.length - done, offset + done);
    }
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

  /** Puts the disk in place, restores the device state and runs the guest. */
  async finish(
    token: string,
    deviceState: Uint8Array[],
    diskFileBytes: number | null,
  ): Promise<DomainInfo> {
    const session = this.session(token);
    clearTimeout(session.timer);
    try {
      let durable: { overlayPath: string; base: OverlayBase } | null = null;
      if (session.disk) {
        const { fd, path, final, base } = session.disk;
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
      const state = Buffer.concat(deviceState);
      const buffer = state.buffer.slice(state.byteOffset, state.byteOffset + state.byteLength);
      await session.domain.resumeIncoming(buffer as ArrayBuffer, durable);
      await session.booted;
    } catch (error) {
      await this.drop(token, error instanceof Error ? error.message : String(error));
      throw error;
    }
    this.sessions.delete(token);
    this.host.adopt(session.domain, session.mode);
    this.log.info({ domain: session.domain.id, mode: session.mode }, 'relocation arrived');
    return session.domain.info();
  }

  async abort(token: string): Promise<null> {
    await this.drop(token, 'the sender aborted');
    return null;
  }

  /** The sender's control connection closed: what it was sending will not finish. */
  connectionClosed(connection: string): void {
    for (const session of [...this.sessions.values()]) {
      if (session.connection === connection) void this.drop(session.token, 'the sender left');
    }
  }

  private session(token: string): Incoming {
    const session = this.sessions.get(token);
    if (!session) throw new HostError('not_found', 'no such relocation in progress');
    session.timer.refresh();
    return session;
  }

  private async drop(token: string, reason: string): Promise<void> {
    const session = this.sessions.get(token);
    if (!session) return;
    this.sessions.delete(token);
    clearTimeout(session.timer);
    this.log.warn({ domain: session.domain.id, reason }, 'incoming relocation dropped');
    if (session.disk) {
      closeSync(session.disk.fd);
      rmSync(session.disk.path, { force: true });
    }
    await this.host.discard(session.domain).catch(() => undefined);
  }
}
