// A viewer session's clipboard and file transfer: validates each request (protocol/transfer.ts),
// asks the transfer policy and the session's policy (its attach token: directions and sizes),
// forwards it to the VM's hypervisor and answers the acknowledgement.
import { HypervisorError } from '@raydesk/hypervisor/api';
import type { Logger } from 'pino';
import type { SessionMode } from '../protocol/browser.ts';
import type { SessionPolicy } from '../protocol/policy.ts';
import {
  TRANSFER_EVENT_CONTRACT,
  TRANSFER_LIMITS,
  type OutboxFile,
  type TransferErrorCode,
  type TransferEventName,
  type TransferPermissions,
  type TransferReplies,
  type TransferRequests,
  type TransferResult,
} from '../protocol/transfer.ts';
import type { VmFeed } from './feed.ts';
import { TokenBucket, approxSize } from './limits.ts';

export type TransferDirection =
  'clipboard-to-guest' | 'clipboard-from-guest' | 'files-to-guest' | 'files-from-guest';

/** Who asks: what the attach token says about the viewer. */
export interface TransferSubject {
  /** The user's id (the token's subject). */
  user: string;
  name: string;
  role: 'user' | 'admin';
  vm: string;
}

/**
 * Decides whether a viewer may use a direction; asked when the session attaches. The default
 * allows everything; an organisation's policy (per user or role) replaces it.
 */
export type TransferPolicy = (subject: TransferSubject, direction: TransferDirection) => boolean;
export const allowAllTransfers: TransferPolicy = () => true;

/** Whether a session policy (the user's groups) allows a direction at all. */
export function sessionPolicyAllows(policy: SessionPolicy, direction: TransferDirection): boolean {
  switch (direction) {
    case 'clipboard-to-guest':
      return policy.clipboardToVm;
    case 'clipboard-from-guest':
      return policy.clipboardFromVm;
    case 'files-to-guest':
      return policy.uploadEnabled;
    case 'files-from-guest':
      return policy.downloadEnabled;
  }
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

function sizeText(bytes: number): string {
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** The session as the transfer needs it. */
export interface TransferSession {
  readonly vm: string;
  readonly mode: SessionMode;
  readonly feed: VmFeed | null;
  /** What the user's groups allow (the attach token's policy). */
  readonly policy: SessionPolicy;
}

class TransferError extends Error {
  constructor(
    readonly code: TransferErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type Handlers = {
  [E in TransferEventName]: (request: TransferRequests[E]) => Promise<TransferReplies[E]>;
};

// Bytes a request may take on the wire: clipboard text may be 4 UTF-16 units per byte limit.
const MAX_REQUEST_BYTES: Record<TransferEventName, number> = {
  'clipboard:set': TRANSFER_LIMITS.clipboardBytes * 4 + 1024,
  'clipboard:get': 256,
  'files:upload-begin': 2048,
  'files:upload-chunk': TRANSFER_LIMITS.chunkBytes + 1024,
  'files:upload-end': 256,
  'files:upload-abort': 256,
  'files:list': 256,
  'files:read': 2048,
};

function hypervisorError(error: unknown): TransferError {
  if (error instanceof TransferError) return error;
  if (error instanceof HypervisorError) {
    if (error.code === 'insufficient_disk') return new TransferError('disk_full', error.message);
    if (error.code === 'not_found' || error.code === 'illegal_transition') {
      return new TransferError('unavailable', 'The desktop is not running.');
    }
    return new TransferError('failed', error.message);
  }
  return new TransferError('unavailable', 'The desktop did not answer.');
}

export class SessionTransfer {
  readonly permissions: TransferPermissions;
  private readonly uploads = new Map<number, { name: string; bytes: number; received: number }>();
  /** Offered files whose size was checked against the download limit, by name. */
  private readonly checkedDownloads = new Set<string>();
  private readonly bucket = new TokenBucket(
    TRANSFER_LIMITS.requestsPerSecond,
    TRANSFER_LIMITS.requestsPerSecond,
  );

  constructor(
    private readonly session: TransferSession,
    subject: TransferSubject,
    policy: TransferPolicy,
    private readonly log: Logger,
  ) {
    // A view-only shadow neither types into the desktop nor reads its owner's clipboard.
    const may = (direction: TransferDirection) =>
      session.mode === 'control' &&
      sessionPolicyAllows(session.policy, direction) &&
      policy(subject, direction);
    this.permissions = {
      clipboardToGuest: may('clipboard-to-guest'),
      clipboardFromGuest: may('clipboard-from-guest'),
      filesToGuest: may('files-to-guest'),
      filesFromGuest: may('files-from-guest'),
    };
  }

  /** Handles one transfer event: `args` as socket.io gave them (request, then the ack). */
  dispatch(event: TransferEventName, args: unknown[]): void {
    const ack = args.at(-1);
    if (typeof ack !== 'function') return;
    const reply = ack as (result: TransferResult<unknown>) => void;
    const fail = (code: TransferErrorCode, message: string) =>
      reply({ ok: false, error: { code, message } });
    const payload = args.length > 1 ? args[0] : {};
    if (approxSize(payload, MAX_REQUEST_BYTES[event]) > MAX_REQUEST_BYTES[event]) {
      fail('too_large', `${event} is limited to ${MAX_REQUEST_BYTES[event]} bytes`);
      return;
    }
    if (!this.bucket.take()) {
      fail('rate_limited', 'Too many transfer requests; slow down.');
      return;
    }
    const parsed = TRANSFER_EVENT_CONTRACT[event].safeParse(payload);
    if (!parsed.success) {
      fail('bad_request', parsed.error.issues[0]?.message ?? 'invalid request');
      return;
    }
    this.run(event, parsed.data).then(
      (value) => reply({ ok: true, value }),
      (error: unknown) => {
        const refusal = hypervisorError(error);
        this.log.debug({ vm: this.session.vm, event, code: refusal.code }, refusal.message);
        fail(refusal.code, refusal.message);
      },
    );
  }

  /** The guest's clipboard changed: the text for the viewer, or null if it may not see it. */
  clipboardForViewer(text: string): string | null {
    if (!this.permissions.clipboardFromGuest) return null;
    return utf8Bytes(text) <= this.session.policy.clipboardMaxBytes ? text : null;
  }

  outboxForViewer(files: OutboxFile[]): OutboxFile[] | null {
    return this.permissions.filesFromGuest ? files : null;
  }

  /** Drops the session's unfinished uploads (their partial files leave the guest). */
  end(): void {
    const client = this.session.feed?.host.client;
    for (const uploadId of this.uploads.keys()) {
      client?.call('files:upload-abort', { id: this.session.vm, uploadId }).catch(() => undefined);
    }
    this.uploads.clear();
  }

  private run<E extends TransferEventName>(
    event: E,
    request: TransferRequests[E],
  ): Promise<TransferReplies[E]> {
    const handler = this.handlers[event] as (r: TransferRequests[E]) => Promise<TransferReplies[E]>;
    return handler(request);
  }

  private require(allowed: boolean, what: string) {
    if (this.session.mode !== 'control') {
      throw new TransferError('view_only', 'This session is view-only.');
    }
    if (!allowed) throw new TransferError('not_allowed', `${what} is not allowed for you.`);
    const feed = this.session.feed;
    if (!feed || feed.outage) throw new TransferError('unavailable', 'The desktop is not ready.');
    return feed.host.client;
  }

  /** Refuses a size over the session policy's limit; `what` is "Uploads are" and the like. */
  private within(bytes: number, limit: number, what: string): void {
    if (bytes > limit) {
      throw new TransferError('too_large', `${what} limited to ${sizeText(limit)} for you.`);
    }
  }

  private readonly handlers: Handlers = {
    'clipboard:set': async ({ text }) => {
      const client = this.require(this.permissions.clipboardToGuest, 'Pasting into the desktop');
      this.within(utf8Bytes(text), this.session.policy.clipboardMaxBytes, 'Clipboard text is');
      const bytes = await client.call('clipboard:set', { id: this.session.vm, text });
      return { bytes };
    },
    'clipboard:get': async () => {
      const client = this.require(this.permissions.clipboardFromGuest, 'Copying from the desktop');
      const text = await client.call('clipboard:get', { id: this.session.vm });
      this.within(utf8Bytes(text), this.session.policy.clipboardMaxBytes, 'Clipboard text is');
      return { text };
    },
    'files:upload-begin': async ({ name, bytes }) => {
      const client = this.require(this.permissions.filesToGuest, 'Uploading files');
      this.within(bytes, this.session.policy.uploadMaxBytes, 'Uploads are');
      const { uploadId } = await client.call('files:upload-begin', { id: this.session.vm, bytes });
      this.uploads.set(uploadId, { name, bytes, received: 0 });
      return { uploadId };
    },
    'files:upload-chunk': async ({ uploadId, data }) => {
      const client = this.require(this.permissions.filesToGuest, 'Uploading files');
      const upload = this.uploads.get(uploadId);
      if (!upload) throw new TransferError('bad_request', 'No such upload.');
      if (data.byteLength > TRANSFER_LIMITS.chunkBytes) {
        throw new TransferError('too_large', `chunks are limited to ${TRANSFER_LIMITS.chunkBytes}`);
      }
      if (upload.received + data.byteLength > upload.bytes) {
        throw new TransferError('too_large', 'More bytes than the upload announced.');
      }
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
      const { received } = await client.call('files:upload-chunk', {
        id: this.session.vm,
        uploadId,
        data: bytes,
      });
      upload.received = received;
      return { received };
    },
    'files:upload-end': async ({ uploadId }) => {
      const client = this.require(this.permissions.filesToGuest, 'Uploading files');
      const upload = this.uploads.get(uploadId);
      if (!upload) throw new TransferError('bad_request', 'No such upload.');
      if (upload.received !== upload.bytes) {
        throw new TransferError('bad_request', 'The upload is not complete.');
      }
      this.uploads.delete(uploadId);
      return client.call('files:upload-end', { id: this.session.vm, uploadId, name: upload.name });
    },
    'files:upload-abort': async ({ uploadId }) => {
      const client = this.require(this.permissions.filesToGuest, 'Uploading files');
      if (!this.uploads.delete(uploadId)) return null;
      await client.call('files:upload-abort', { id: this.session.vm, uploadId });
      return null;
    },
    'files:list': async () => {
      const client = this.require(this.permissions.filesFromGuest, 'Downloading files');
      return { files: await client.call('files:outbox', { id: this.session.vm }) };
    },
    'files:read': async ({ name, offset }) => {
      const client = this.require(this.permissions.filesFromGuest, 'Downloading files');
      const limit = this.session.policy.downloadMaxBytes;
      this.within(offset, limit, 'Downloads are');
      // Below the protocol's cap the whole file is checked before its first byte is sent, so a
      // file over the policy's limit is not handed out in part.
      if (offset === 0 || !this.checkedDownloads.has(name)) {
        const files = await client.call('files:outbox', { id: this.session.vm });
        const file = files.find((f) => f.name === name);
        if (file) this.within(file.bytes, limit, 'Downloads are');
        this.checkedDownloads.add(name);
      }
      const data = await client.call('files:read', { id: this.session.vm, name, offset });
      this.within(offset + data.byteLength, limit, 'Downloads are');
      return { data };
    },
  };
}
