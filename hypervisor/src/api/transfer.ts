// Clipboard and file transfer between a guest and its viewers, as the control channel carries
// them: limits, the file-name rule and the request schemas. The guest side is the agent's
// clip-*, upload-* and outbox-* commands (guest/common/raydesk-agent); host/guest-transfer.ts
// drives them.
import { z } from 'zod';
import { domainIdSchema } from './protocol.ts';

/** Longest clipboard text either way, in UTF-8 bytes (the agent refuses more too). */
export const CLIPBOARD_MAX_BYTES = 256 * 1024;
/** Largest file a viewer may upload into ~/Uploads. */
export const UPLOAD_MAX_BYTES = 64 * 1024 * 1024;
/** Largest file a viewer may download from ~/Send to browser. */
export const DOWNLOAD_MAX_BYTES = 64 * 1024 * 1024;
/** Bytes per upload chunk and per download read (the agent reads files in 4 KiB blocks). */
// Small enough that one chunk crosses the serial line within the call timeout on a busy host.
export const TRANSFER_CHUNK_BYTES = 64 * 1024;

/** The selections a viewer reads or writes. */
export const clipboardSelectionSchema = z.enum(['clipboard', 'primary']);
export type ClipboardSelection = z.infer<typeof clipboardSelectionSchema>;

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
export const clipboardTextSchema = z
  .string()
  .refine((text) => utf8Bytes(text) <= CLIPBOARD_MAX_BYTES, {
    message: `clipboard text over ${CLIPBOARD_MAX_BYTES} bytes`,
  });

/**
 * A file name as it appears in ~/Uploads or ~/Send to browser: one path segment of at most
 * 255 UTF-8 bytes, no "/" or "\", not "." or "..", no control characters, and not the
 * agent's own ".raydesk-" temporary files.
 */
export const transferFileNameSchema = z
  .string()
  .min(1)
  .refine((name) => utf8Bytes(name) <= 255, { message: 'file name over 255 bytes' })
  .refine((name) => !/[/\\]/.test(name), { message: 'file name contains a path separator' })
  .refine((name) => name !== '.' && name !== '..', { message: 'file name is "." or ".."' })
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), {
    message: 'file name contains a control character',
  })
  .refine((name) => !name.startsWith('.raydesk-'), { message: 'file name is reserved' });

const binarySchema = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'binary data');
const uploadIdSchema = z.number().int().min(1).max(999_999_999);

export const clipboardSetSchema = z.object({
  id: domainIdSchema,
  text: clipboardTextSchema,
  /** Both by default: Ctrl+V / the menus use CLIPBOARD, the middle button PRIMARY. */
  selection: z.enum(['clipboard', 'primary', 'both']).default('both'),
});
export const clipboardGetSchema = z.object({
  id: domainIdSchema,
  selection: clipboardSelectionSchema.default('clipboard'),
});
export const uploadBeginSchema = z.object({
  id: domainIdSchema,
  bytes: z.number().int().min(0).max(UPLOAD_MAX_BYTES),
});
export const uploadChunkSchema = z.object({
  id: domainIdSchema,
  uploadId: uploadIdSchema,
  data: binarySchema.refine((data) => data.byteLength <= TRANSFER_CHUNK_BYTES, {
    message: `chunk over ${TRANSFER_CHUNK_BYTES} bytes`,
  }),
});
export const uploadEndSchema = z.object({
  id: domainIdSchema,
  uploadId: uploadIdSchema,
  name: transferFileNameSchema,
});
export const uploadRefSchema = z.object({ id: domainIdSchema, uploadId: uploadIdSchema });
export const outboxReadSchema = z.object({
  id: domainIdSchema,
  name: transferFileNameSchema,
  /** A multiple of TRANSFER_CHUNK_BYTES. */
  offset: z
    .number()
    .int()
    .min(0)
    .max(DOWNLOAD_MAX_BYTES)
    .refine((offset) => offset % TRANSFER_CHUNK_BYTES === 0, {
      message: `offset is not a multiple of ${TRANSFER_CHUNK_BYTES}`,
    }),
});

export interface UploadBegun {
  uploadId: number;
  /** How the file's bytes travel: a TCP stream over the guest's network, or the agent's line. */
  channel: 'network' | 'agent';
}
export interface UploadProgress {
  /** Bytes of the upload now in the guest. */
  received: number;
}
export interface UploadDone {
  /** The name the file got in ~/Uploads ("name (2).ext" when the name was taken). */
  name: string;
  /** sha256 of the file as the guest wrote it, hex. */
  sha256: string;
}
/** A file in the guest's ~/Send to browser. */
export interface OutboxFile {
  name: string;
  bytes: number;
}
/** Pushed to the domain's watchers when the guest's CLIPBOARD changes. */
export interface ClipboardChanged {
  domainId: string;
  text: string;
}
/** Pushed to the domain's watchers when the files in ~/Send to browser change. */
export interface OutboxChanged {
  domainId: string;
  files: OutboxFile[];
}
