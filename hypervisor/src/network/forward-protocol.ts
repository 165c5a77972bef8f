// The port-forward channel between the host's virtual switch and a domain worker: one WebSocket
// per running VM (opened by its worker at boot, authorised by the VM's switch token), carrying
// any number of host-to-guest TCP streams. The switch accepts a connection on a forward's host
// port and asks the worker to open the guest port; the worker connects to the guest from the
// fake router's address (guest-tcp.ts) and relays bytes both ways.
//
// Binary frames: [type u8][stream u32 LE][payload]. Each side validates every frame it receives:
// the worker runs the guest's emulator, so the switch does not trust it, and the other way round.
import { z } from 'zod';

const FRAME_TYPES = {
  /** switch -> worker: connect to this guest port (payload u16 LE). */
  open: 1,
  /** worker -> switch: the guest accepted the connection. */
  opened: 2,
  /** either way: stream bytes. */
  data: 3,
  /** either way: no more bytes from this side (TCP FIN); the other direction stays open. */
  end: 4,
  /** either way: the stream is gone (payload u8: why). */
  close: 5,
  /** either way: stop sending DATA on this stream until `resume` (the reader is behind). */
  pause: 6,
  resume: 7,
} as const;
type FrameTypeName = keyof typeof FRAME_TYPES;

/** Why a stream ended: normally, refused by the guest, reset, no answer in time, or aborted. */
export const FORWARD_CLOSE_REASONS = ['closed', 'refused', 'reset', 'timeout', 'aborted'] as const;
export type ForwardCloseReason = (typeof FORWARD_CLOSE_REASONS)[number];

const HEADER_BYTES = 5;
/** Largest DATA payload either side sends; bigger writes are split. */
export const FORWARD_MAX_DATA = 64 * 1024;

const stream = z.number().int().min(1).max(0xffffffff);
const frameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('open'), stream, port: z.number().int().min(1).max(65535) }),
  z.object({ type: z.literal('opened'), stream }),
  z.object({
    type: z.literal('data'),
    stream,
    data: z.custom<Uint8Array>(
      (d) => d instanceof Uint8Array && d.length > 0 && d.length <= FORWARD_MAX_DATA,
      'DATA carries 1 to 64 KiB',
    ),
  }),
  z.object({ type: z.literal('end'), stream }),
  z.object({ type: z.literal('close'), stream, reason: z.enum(FORWARD_CLOSE_REASONS) }),
  z.object({ type: z.literal('pause'), stream }),
  z.object({ type: z.literal('resume'), stream }),
]);
export type ForwardFrame = z.infer<typeof frameSchema>;

const TYPE_NAMES = new Map<number, FrameTypeName>(
  Object.entries(FRAME_TYPES).map(([name, code]) => [code, name as FrameTypeName]),
);

export function encodeForwardFrame(frame: ForwardFrame): Uint8Array {
  const payload =
    frame.type === 'open'
      ? Uint8Array.of(frame.port & 0xff, frame.port >> 8)
      : frame.type === 'data'
        ? frame.data
        : frame.type === 'close'
          ? Uint8Array.of(FORWARD_CLOSE_REASONS.indexOf(frame.reason))
          : new Uint8Array(0);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FRAME_TYPES[frame.type]);
  view.setUint32(1, frame.stream, true);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** The frame in `bytes`, or null when it is malformed (unknown type, bad length, bad field). */
export function decodeForwardFrame(bytes: Uint8Array): ForwardFrame | null {
  if (bytes.length < HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = TYPE_NAMES.get(view.getUint8(0));
  if (!type) return null;
  const payload = bytes.subarray(HEADER_BYTES);
  const raw: Record<string, unknown> = { type, stream: view.getUint32(1, true) };
  if (type === 'open') {
    if (payload.length !== 2) return null;
    raw.port = payload[0]! | (payload[1]! << 8);
  } else if (type === 'data') {
    raw.data = payload;
  } else if (type === 'close') {
    if (payload.length !== 1) return null;
    raw.reason = FORWARD_CLOSE_REASONS[payload[0]!];
  } else if (payload.length !== 0) {
    return null;
  }
  const parsed = frameSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
