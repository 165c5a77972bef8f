// A domain's clipboard and file transfer through its guest agent (the clip-*, upload-* and
// outbox-* commands of guest/common/raydesk-agent). Names travel base64-encoded, so a name
// with spaces or any Unicode character is one agent argument; both ends check it.
import { EventEmitter } from 'node:events';
import {
  CLIPBOARD_MAX_BYTES,
  TRANSFER_CHUNK_BYTES,
  transferFileNameSchema,
  type ClipboardSelection,
  type OutboxFile,
  type UploadDone,
} from '../api/transfer.ts';
import type { Domain } from './domain.ts';
import { HostError } from './errors.ts';

// Under the gateway's 60 s call timeout, so a slow guest's refusal still reaches the viewer.
// Each request starts a few processes in the guest (su, xclip, base64): seconds on a loaded host.
const CLIPBOARD_TIMEOUT_MS = 55_000;
const CHUNK_TIMEOUT_MS = 55_000;
const AGENT_BLOCK_BYTES = 4096;

type Events = { clipboard: [text: string]; outbox: [files: OutboxFile[]] };

const toBase64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const fromBase64 = (text: string) => Buffer.from(text, 'base64');

/** Parses outbox-list's payload: "<name-base64>:<bytes> ...". Unacceptable names are left out. */
export function parseOutboxList(payload: string): OutboxFile[] {
  const files: OutboxFile[] = [];
  for (const word of payload.split(' ')) {
    const m = /^([A-Za-z0-9+/=]+):(\d+)$/.exec(word);
    if (!m) continue;
    const name = fromBase64(m[1]!).toString('utf8');
    if (transferFileNameSchema.safeParse(name).success) files.push({ name, bytes: Number(m[2]) });
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** Turns an agent refusal into a HostError the viewer can show as it is. */
async function agentCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = /disk full/.test(message) ? 'insufficient_disk' : 'bad_request';
    throw new HostError(code, `${what}: ${message}`);
  }
}

export class GuestTransfer extends EventEmitter<Events> {
  private static readonly byDomain = new WeakMap<Domain, GuestTransfer>();

  /** The one GuestTransfer of a domain (it listens to the domain's agent events once). */
  static of(domain: Domain): GuestTransfer {
    let transfer = GuestTransfer.byDomain.get(domain);
    if (!transfer) {
      transfer = new GuestTransfer(domain);
      GuestTransfer.byDomain.set(domain, transfer);
    }
    return transfer;
  }

  /** The text last put into or read from the guest's CLIPBOARD, to announce changes once. */
  private lastClipboard: string | null = null;
  private nextUploadId = 1;

  private constructor(private readonly domain: Domain) {
    super();
    domain.on('agent', (line: string) => {
      if (line === '* clipboard') void this.clipboardChanged();
      else if (line === '* outbox') void this.outboxChanged();
    });
  }

  async setClipboard(text: string, selection: ClipboardSelection | 'both'): Promise<number> {
    if (Buffer.byteLength(text, 'utf8') > CLIPBOARD_MAX_BYTES) {
      throw new HostError('bad_request', `clipboard text over ${CLIPBOARD_MAX_BYTES} bytes`);
    }
    if (selection !== 'primary') this.lastClipboard = text;
    const reply = await agentCall('clipboard', () =>
      this.domain.agentRequest(
        'clip-set',
        [selection],
        CLIPBOARD_TIMEOUT_MS,
        Buffer.from(text, 'utf8'),
      ),
    );
    return Number(reply);
  }

  async getClipboard(selection: ClipboardSelection): Promise<string> {
    const reply = await agentCall('clipboard', () =>
      this.domain.agentRequest('clip-get', [selection], CLIPBOARD_TIMEOUT_MS),
    );
    return fromBase64(reply).toString('utf8');
  }

  async beginUpload(bytes: number): Promise<number> {
    const uploadId = this.nextUploadId++;
    await agentCall('upload', () =>
      this.domain.agentRequest('upload-begin', [String(uploadId), String(bytes)], CHUNK_TIMEOUT_MS),
    );
    return uploadId;
  }

  /** Appends a chunk; resolves with the bytes of the upload now in the guest. */
  async uploadChunk(uploadId: number, data: Uint8Array): Promise<number> {
    const reply = await agentCall('upload', () =>
      this.domain.agentRequest('upload-chunk', [String(uploadId)], CHUNK_TIMEOUT_MS, data),
    );
    return Number(reply);
  }

  async endUpload(uploadId: number, name: string): Promise<UploadDone> {
    const reply = await agentCall('upload', () =>
      this.domain.agentRequest(
        'upload-end',
        [String(uploadId), toBase64(transferFileNameSchema.parse(name))],
        CHUNK_TIMEOUT_MS,
      ),
    );
    const [finalName = '', sha256 = ''] = reply.split(' ');
    return { name: fromBase64(finalName).toString('utf8'), sha256 };
  }

  async abortUpload(uploadId: number): Promise<void> {
    await agentCall('upload', () =>
      this.domain.agentRequest('upload-abort', [String(uploadId)], CHUNK_TIMEOUT_MS),
    );
  }

  async listOutbox(): Promise<OutboxFile[]> {
    return parseOutboxList(
      await agentCall('outbox', () =>
        this.domain.agentRequest('outbox-list', [], CHUNK_TIMEOUT_MS),
      ),
    );
  }

  /** Up to TRANSFER_CHUNK_BYTES of an outbox file from `offset` (empty past its end). */
  async readOutbox(name: string, offset: number): Promise<Uint8Array> {
    const reply = await agentCall('download', () =>
      this.domain.agentRequest(
        'outbox-read',
        [
          toBase64(transferFileNameSchema.parse(name)),
          String(offset / AGENT_BLOCK_BYTES),
          String(TRANSFER_CHUNK_BYTES / AGENT_BLOCK_BYTES),
        ],
        CHUNK_TIMEOUT_MS,
      ),
    );
    return new Uint8Array(fromBase64(reply));
  }

  private async clipboardChanged(): Promise<void> {
    try {
      const text = await this.getClipboard('clipboard');
      if (text === this.lastClipboard) return;
      this.lastClipboard = text;
      this.emit('clipboard', text);
    } catch {
      // Too long, or the session went away: nothing to announce.
    }
  }

  private async outboxChanged(): Promise<void> {
    try {
      this.emit('outbox', await this.listOutbox());
    } catch {
      // The next change announces the folder again.
    }
  }
}
