// Session recordings: the file format, the index the player seeks with, and the events the
// gateway posts to the portal. Browser-safe (zod, DataView, TextEncoder; no Node APIs): the
// gateway writes the format and the admin player in the portal reads it with these functions.
//
// File `<id>.rdrec`: the 8-byte magic "RDREC01\n", then records, appended in time order:
//   u32 LE  length of what follows (type .. end of blobs)
//   u8      type (RECORD_TYPES)
//   u32 LE  t: milliseconds since the recording started
//   u32 LE  length of the JSON meta
//   meta    UTF-8 JSON, checked with the type's schema
//   blobs   the image bytes of a frame's rects, in rect order (meta.rects[i].len each)
// A record is complete when its whole length is in the file; a reader stops at the first
// incomplete one, so a file cut short by a crash plays up to its last complete record.
// Frames are the exact `display:update` parts the viewer was sent. Keyframes (a full picture of
// what the viewer had) are written every so often; `<id>.rdrec.idx` lists them, one JSON
// `{"t","offset"}` per line, so a seek reads from the keyframe before the target onwards.
import * as z from 'zod';
import type { DisplayMode, DisplayUpdate, WireRect } from './browser.ts';

export const RECORDING_MAGIC = 'RDREC01\n';
export const RECORDING_FILE_SUFFIX = '.rdrec';
export const RECORDING_INDEX_SUFFIX = '.rdrec.idx';
/** Record header bytes: length, type, t, meta length. */
export const RECORD_HEADER_BYTES = 13;
/** A recording id: the gateway's session id (base64url). */
export const recordingIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);

export const RECORD_TYPES = {
  start: 1,
  resize: 2,
  frame: 3,
  keyframe: 4,
  input: 5,
  end: 6,
} as const;
export type RecordType = keyof typeof RECORD_TYPES;
const TYPE_NAMES = new Map<number, RecordType>(
  Object.entries(RECORD_TYPES).map(([name, code]) => [code, name as RecordType]),
);

const dim = z.number().int().min(0).max(16_384);
const rectMetaSchema = z.discriminatedUnion('enc', [
  z.strictObject({ enc: z.literal('fill'), x: dim, y: dim, w: dim, h: dim, rgb: z.number().int() }),
  z.strictObject({
    enc: z.enum(['png', 'jpeg']),
    x: dim,
    y: dim,
    w: dim,
    h: dim,
    len: z.number().int().min(0),
  }),
  z.strictObject({ enc: z.literal('copy'), x: dim, y: dim, w: dim, h: dim, sx: dim, sy: dim }),
]);
const frameMetaSchema = z.strictObject({
  width: dim,
  height: dim,
  full: z.boolean(),
  rects: z.array(rectMetaSchema),
});

export const startMetaSchema = z.strictObject({
  version: z.literal(1),
  id: recordingIdSchema,
  vm: z.string().min(1).max(64),
  userId: z.string().min(1).max(128),
  userName: z.string().max(200),
  gatewayId: z.string().min(1).max(64),
  /** ISO time t = 0 stands for. */
  startedAt: z.iso.datetime(),
  width: dim,
  height: dim,
});
export type RecordingStart = z.infer<typeof startMetaSchema>;
const resizeMetaSchema = z.strictObject({
  width: dim,
  height: dim,
  mode: z.enum(['graphical', 'text']),
});
const inputMetaSchema = z.strictObject({
  event: z.string().max(32),
  data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
});
const endMetaSchema = z.strictObject({ reason: z.string().max(200) });

export type RecordingRecord = { offset: number; size: number; t: number } & (
  | { type: 'start'; meta: RecordingStart }
  | { type: 'resize'; meta: z.infer<typeof resizeMetaSchema> }
  | { type: 'frame' | 'keyframe'; frame: DisplayUpdate }
  | { type: 'input'; meta: z.infer<typeof inputMetaSchema> }
  | { type: 'end'; meta: z.infer<typeof endMetaSchema> }
);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeMagic(): Uint8Array {
  return encoder.encode(RECORDING_MAGIC);
}

function encodeRecord(type: RecordType, t: number, meta: unknown, blobs: Uint8Array[] = []) {
  const json = encoder.encode(JSON.stringify(meta));
  const blobBytes = blobs.reduce((n, b) => n + b.byteLength, 0);
  const total = RECORD_HEADER_BYTES + json.byteLength + blobBytes;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total - 4, true);
  view.setUint8(4, RECORD_TYPES[type]);
  view.setUint32(5, Math.max(0, Math.min(0xffffffff, Math.round(t))), true);
  view.setUint32(9, json.byteLength, true);
  out.set(json, RECORD_HEADER_BYTES);
  let at = RECORD_HEADER_BYTES + json.byteLength;
  for (const blob of blobs) {
    out.set(blob, at);
    at += blob.byteLength;
  }
  return out;
}

export function encodeStart(t: number, meta: RecordingStart): Uint8Array {
  return encodeRecord('start', t, meta);
}
export function encodeResize(
  t: number,
  meta: { width: number; height: number; mode: DisplayMode },
): Uint8Array {
  return encodeRecord('resize', t, meta);
}
export function encodeInput(t: number, event: string, data: Record<string, unknown>): Uint8Array {
  const flat: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(data))
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      flat[key] = value;
  return encodeRecord('input', t, { event, data: flat });
}
export function encodeEnd(t: number, reason: string): Uint8Array {
  return encodeRecord('end', t, { reason: reason.slice(0, 200) });
}

/** A `display:update` part (or a keyframe, which is one full update) as a record. */
export function encodeFrame(
  t: number,
  update: Pick<DisplayUpdate, 'width' | 'height' | 'full' | 'rects'>,
  type: 'frame' | 'keyframe' = 'frame',
): Uint8Array {
  const blobs: Uint8Array[] = [];
  const rects = update.rects.map((r) => {
    if (r.enc === 'fill') return { enc: r.enc, x: r.x, y: r.y, w: r.w, h: r.h, rgb: r.rgb };
    if (r.enc === 'copy') return { enc: r.enc, x: r.x, y: r.y, w: r.w, h: r.h, sx: r.sx, sy: r.sy };
    blobs.push(r.data);
    return { enc: r.enc, x: r.x, y: r.y, w: r.w, h: r.h, len: r.data.byteLength };
  });
  return encodeRecord(
    type,
    t,
    { width: update.width, height: update.height, full: update.full, rects },
    blobs,
  );
}

export function hasMagic(bytes: Uint8Array): boolean {
  return decoder.decode(bytes.subarray(0, RECORDING_MAGIC.length)) === RECORDING_MAGIC;
}

export class RecordingFormatError extends Error {}

/**
 * Decodes the complete records in `bytes`, which start at file offset `baseOffset` on a record
 * boundary (or at the magic, when baseOffset is 0). `end` is the file offset after the last
 * complete record: an incomplete tail (a crash, or a read that cut a record) is left out.
 */
export function decodeRecords(
  bytes: Uint8Array,
  baseOffset = 0,
): { records: RecordingRecord[]; end: number } {
  let at = 0;
  if (baseOffset === 0) {
    if (bytes.byteLength < RECORDING_MAGIC.length) return { records: [], end: 0 };
    if (!hasMagic(bytes)) throw new RecordingFormatError('not a Raydesk recording');
    at = RECORDING_MAGIC.length;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: RecordingRecord[] = [];
  while (at + 4 <= bytes.byteLength) {
    const length = view.getUint32(at, true);
    const size = length + 4;
    if (length < RECORD_HEADER_BYTES - 4 || at + size > bytes.byteLength) break;
    const code = view.getUint8(at + 4);
    const t = view.getUint32(at + 5, true);
    const metaLength = view.getUint32(at + 9, true);
    const metaStart = at + RECORD_HEADER_BYTES;
    if (metaStart + metaLength > at + size)
      throw new RecordingFormatError(`bad record at ${baseOffset + at}`);
    const type = TYPE_NAMES.get(code);
    if (!type) throw new RecordingFormatError(`unknown record type ${code} at ${baseOffset + at}`);
    const raw: unknown = JSON.parse(
      decoder.decode(bytes.subarray(metaStart, metaStart + metaLength)),
    );
    const base = { offset: baseOffset + at, size, t };
    switch (type) {
      case 'start':
        records.push({ ...base, type, meta: startMetaSchema.parse(raw) });
        break;
      case 'resize':
        records.push({ ...base, type, meta: resizeMetaSchema.parse(raw) });
        break;
      case 'input':
        records.push({ ...base, type, meta: inputMetaSchema.parse(raw) });
        break;
      case 'end':
        records.push({ ...base, type, meta: endMetaSchema.parse(raw) });
        break;
      case 'frame':
      case 'keyframe': {
        const meta = frameMetaSchema.parse(raw);
        let blobAt = metaStart + metaLength;
        const rects: WireRect[] = meta.rects.map((r) => {
          if (r.enc === 'fill' || r.enc === 'copy') return r;
          const data = bytes.subarray(blobAt, blobAt + r.len);
          blobAt += r.len;
          return { enc: r.enc, x: r.x, y: r.y, w: r.w, h: r.h, data };
        });
        if (blobAt > at + size) throw new RecordingFormatError(`bad frame at ${baseOffset + at}`);
        const frame: DisplayUpdate = { seq: 0, part: 0, last: true, ...meta, rects };
        records.push({ ...base, type, frame });
        break;
      }
    }
    at += size;
  }
  return { records, end: baseOffset + at };
}

// ---- Index ------------------------------------------------------------------------------------

export const keyframeEntrySchema = z.strictObject({
  t: z.number().int().min(0),
  offset: z.number().int().min(RECORDING_MAGIC.length),
});
export type KeyframeEntry = z.infer<typeof keyframeEntrySchema>;

/** Parses the `.idx` lines, keeping entries that lie within a file of `fileSize` bytes. */
export function parseKeyframeIndex(text: string, fileSize: number): KeyframeEntry[] {
  const entries: KeyframeEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue; // a line cut by a crash
    }
    const entry = keyframeEntrySchema.safeParse(value);
    if (entry.success && entry.data.offset < fileSize) entries.push(entry.data);
  }
  return entries.sort((a, b) => a.offset - b.offset);
}

/** What the player needs to seek: served by the gateway, passed on by the portal. */
export const recordingIndexSchema = z.strictObject({
  id: recordingIdSchema,
  start: startMetaSchema,
  /** Bytes of complete records (a crash may have left a partial one after them). */
  size: z.number().int().min(0),
  durationMs: z.number().int().min(0),
  /** False while the session is still being recorded or the gateway stopped before its end. */
  complete: z.boolean(),
  keyframes: z.array(keyframeEntrySchema),
});
export type RecordingIndex = z.infer<typeof recordingIndexSchema>;

/** The keyframe to start from to show time `t`: the last one at or before it. */
export function keyframeBefore(
  keyframes: readonly KeyframeEntry[],
  t: number,
): KeyframeEntry | null {
  let lo = 0;
  let hi = keyframes.length - 1;
  let found: KeyframeEntry | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keyframes[mid]!.t <= t) {
      found = keyframes[mid]!;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export const RECORDING_MAX_READ_BYTES = 32 * 1024 * 1024;

/** `bytes?from=&to=` on the gateway and the portal: a byte range of one recording. */
export const recordingRangeSchema = z
  .strictObject({
    from: z.coerce.number().int().min(0),
    to: z.coerce.number().int().min(1),
  })
  .refine((r) => r.to > r.from && r.to - r.from <= RECORDING_MAX_READ_BYTES, {
    message: `to must be after from, at most ${RECORDING_MAX_READ_BYTES} bytes later`,
  });

// ---- Events to the portal --------------------------------------------------------------------

/** POST ${PORTAL_INTERNAL_URL}/api/internal/recording-events (bearer GATEWAY_SECRET). */
export const recordingEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('started'),
    start: startMetaSchema,
    /** The file's path on the gateway's machine. */
    path: z.string().min(1).max(4096),
  }),
  z.strictObject({
    type: z.literal('ended'),
    id: recordingIdSchema,
    start: startMetaSchema,
    path: z.string().min(1).max(4096),
    endedAt: z.iso.datetime(),
    durationMs: z.number().int().min(0),
    sizeBytes: z.number().int().min(0),
  }),
  z.strictObject({
    type: z.literal('deleted'),
    id: recordingIdSchema,
    reason: z.enum(['age', 'total-size', 'admin']),
  }),
]);
export type RecordingEvent = z.infer<typeof recordingEventSchema>;
