// Clipboard and file transfer between the viewer and the desktop, on the viewer's socket.
// Every request carries a socket.io acknowledgement answered with a TransferResult; the
// gateway validates each request with the schema below. Browser-safe: zod and no Node APIs.
import * as z from 'zod';

export const TRANSFER_LIMITS = {
  /** Longest clipboard text either way, in UTF-8 bytes. */
  clipboardBytes: 256 * 1024,
  /** Largest file a viewer may upload into ~/Uploads. */
  uploadBytes: 64 * 1024 * 1024,
  /** Largest file a viewer may download from ~/Send to browser. */
  downloadBytes: 64 * 1024 * 1024,
  /** Bytes of one upload chunk and of one download read. */
  chunkBytes: 64 * 1024,
  /** Transfer requests per second per socket, sustained. */
  requestsPerSecond: 50,
} as const;

/** Where the guest puts what arrives, and where it offers files to the browser. */
export const GUEST_FOLDERS = { uploads: '~/Uploads', outbox: '~/Send to browser' } as const;

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

/**
 * One path segment of at most 255 UTF-8 bytes: no "/" or "\", not "." or "..", no control
 * characters. The guest agent checks the same before it touches a file.
 */
export const transferFileNameSchema = z
  .string()
  .min(1, 'the file has no name')
  .refine((name) => utf8Bytes(name) <= 255, 'the file name is longer than 255 bytes')
  .refine((name) => !/[/\\]/.test(name), 'the file name contains "/" or "\\"')
  .refine((name) => name !== '.' && name !== '..', 'the file name is "." or ".."')
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'the file name has a control character')
  .refine((name) => !name.startsWith('.raydesk-'), 'the file name is reserved');

const binarySchema = z.custom<Uint8Array>(
  (value) => value instanceof Uint8Array || value instanceof ArrayBuffer,
  'binary data',
);
const uploadIdSchema = z.number().int().min(1).max(999_999_999);

const transferEvents = {
  /** Put text into the desktop's clipboard (CLIPBOARD and PRIMARY). */
  'clipboard:set': z.strictObject({
    text: z
      .string()
      .refine(
        (text) => utf8Bytes(text) <= TRANSFER_LIMITS.clipboardBytes,
        `clipboard text is limited to ${TRANSFER_LIMITS.clipboardBytes} bytes`,
      ),
  }),
  /** The desktop's clipboard text now. */
  'clipboard:get': z.strictObject({}),
  /** Start an upload; the name is checked before any byte is sent. */
  'files:upload-begin': z.strictObject({
    name: transferFileNameSchema,
    bytes: z
      .number()
      .int()
      .min(0)
      .max(
        TRANSFER_LIMITS.uploadBytes,
        `files are limited to ${TRANSFER_LIMITS.uploadBytes / 2 ** 20} MiB`,
      ),
  }),
  'files:upload-chunk': z.strictObject({ uploadId: uploadIdSchema, data: binarySchema }),
  'files:upload-end': z.strictObject({ uploadId: uploadIdSchema }),
  'files:upload-abort': z.strictObject({ uploadId: uploadIdSchema }),
  /** The files in the desktop's ~/Send to browser. */
  'files:list': z.strictObject({}),
  /** `chunkBytes` of an offered file from `offset` (a multiple of `chunkBytes`). */
  'files:read': z.strictObject({
    name: transferFileNameSchema,
    offset: z
      .number()
      .int()
      .min(0)
      .max(TRANSFER_LIMITS.downloadBytes)
      .refine((offset) => offset % TRANSFER_LIMITS.chunkBytes === 0, 'offset not on a chunk'),
  }),
} as const;

export type TransferEventName = keyof typeof transferEvents;
export type TransferRequests = { [E in TransferEventName]: z.output<(typeof transferEvents)[E]> };

export const TRANSFER_EVENT_CONTRACT: {
  readonly [E in TransferEventName]: z.ZodType<TransferRequests[E]>;
} = transferEvents;

export function isTransferEvent(name: string): name is TransferEventName {
  return Object.hasOwn(transferEvents, name);
}

export interface OutboxFile {
  name: string;
  bytes: number;
}

/** What each request's acknowledgement carries when it succeeds. */
export interface TransferReplies {
  'clipboard:set': { bytes: number };
  'clipboard:get': { text: string };
  'files:upload-begin': { uploadId: number };
  'files:upload-chunk': { received: number };
  'files:upload-end': { name: string; sha256: string };
  'files:upload-abort': null;
  'files:list': { files: OutboxFile[] };
  'files:read': { data: Uint8Array };
}

export const TRANSFER_ERROR_CODES = [
  'not_allowed', // the transfer policy forbids this direction for this user
  'view_only',
  'bad_request', // failed validation: the message says why
  'too_large',
  'disk_full',
  'unavailable', // the desktop is not running or has no transfer agent
  'failed',
  'rate_limited',
] as const;
export type TransferErrorCode = (typeof TRANSFER_ERROR_CODES)[number];

export type TransferResult<T> =
  { ok: true; value: T } | { ok: false; error: { code: TransferErrorCode; message: string } };

/** socket.io's map of the viewer's transfer requests. */
export type TransferClientEvents = {
  [E in TransferEventName]: (
    request: z.input<(typeof transferEvents)[E]>,
    ack: (result: TransferResult<TransferReplies[E]>) => void,
  ) => void;
};

/** Which directions this session may use (the gateway's transfer policy decided). */
export interface TransferPermissions {
  clipboardToGuest: boolean;
  clipboardFromGuest: boolean;
  filesToGuest: boolean;
  filesFromGuest: boolean;
}

export interface TransferReadyMessage {
  permissions: TransferPermissions;
  limits: typeof TRANSFER_LIMITS;
}

export interface TransferServerEvents {
  /** After `session:ready`: what this session may transfer. */
  'transfer:ready': (msg: TransferReadyMessage) => void;
  /** The desktop's clipboard changed (a copy in the desktop). */
  'clipboard:changed': (msg: { text: string }) => void;
  /** The files in the desktop's ~/Send to browser changed. */
  'files:outbox': (msg: { files: OutboxFile[] }) => void;
}
