// The browser wire protocol: everything that crosses the socket.io connection between the
// display gateway and the web viewer. Types and zod schemas only: no DOM and no Node-only APIs,
// because the browser imports this file too. The gateway validates every client message with
// these schemas; the viewer may validate the small server messages with them.
import {
  domainIdSchema,
  guestScreenSizeSchema,
  keyCodeSchema,
  pointerButtonsSchema,
  pointerCoordSchema,
  typedCharSchema,
  wheelNotchesSchema,
  type DisplayMode,
  type DomainState,
} from '@raydesk/common';
import * as z from 'zod';
import type { TransferClientEvents, TransferServerEvents } from './transfer.ts';
import type { SessionPolicy } from './policy.ts';

export { keyCodeSchema, type DisplayMode, type DomainState };

export { PROTOCOL_VERSION } from './version.ts';

/** A VM is a hypervisor domain: the same id rule (@raydesk/common). */
export const vmIdSchema = domainIdSchema;

export const LIMITS = {
  /** socket.io's `maxHttpBufferSize` on the gateway: larger client packets close the transport. */
  maxHttpBufferSize: 1_000_000,
  /** Any client message larger than this (JSON + binary) is refused with a protocol error. */
  maxClientMessageBytes: 8 * 1024,
  /** Server `display:update` messages are split so that none exceeds this many bytes... */
  maxServerMessageBytes: 768 * 1024,
  /**
   * ...nor this many images. Each image is a binary attachment, and socket.io's packet decoder
   * in the browser refuses more than 10 in one packet ("too many attachments"): the viewer's
   * socket then closes with a parse error and the viewer reconnects, to the same frame again.
   */
  maxImagesPerMessage: 10,
  /** Input events (key, pointer, wheel) per second per socket, sustained... */
  inputEventsPerSecond: 240,
  /** ...with this much burst. */
  inputBurst: 480,
  /** Protocol errors tolerated within `strikeWindowMs` before the gateway disconnects. */
  maxStrikes: 10,
  strikeWindowMs: 10_000,
} as const;

// ---- Handshake -----------------------------------------------------------------------------

/** `io(url, { auth })`: the attach token from the portal plus viewer identity. */
export const handshakeAuthSchema = z.object({
  token: z.string().min(16).max(4096),
  /** Random per viewer instance; a reconnect with the same id is a resume, not a takeover. */
  clientId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/)
    .optional(),
  protocol: z.number().int().min(1).max(1000).optional(),
});
export type HandshakeAuth = z.infer<typeof handshakeAuthSchema>;

/** `connect_error` messages the gateway may give (Error.message); anything else is transient. */
export const HANDSHAKE_ERRORS = [
  'unauthorized', // bad or reused token
  'token_expired', // a good token, used after its expiry
  'bad_handshake',
  'protocol_mismatch',
  'too_many_sessions_vm', // this VM has as many viewers as the gateway allows
  'too_many_sessions_user', // this user has as many viewers open as the gateway allows
] as const;
export type HandshakeError = (typeof HANDSHAKE_ERRORS)[number];

// ---- Client -> server ------------------------------------------------------------------------

export const keyMessageSchema = z.strictObject({
  /** `KeyboardEvent.code` (physical key), e.g. "KeyA", "ShiftLeft", "AltRight". */
  code: keyCodeSchema,
  down: z.boolean(),
});
export type KeyMessage = z.infer<typeof keyMessageSchema>;

/**
 * A character the user typed (the key event's `key`, or an `input` event's text), sent instead
 * of the key's code when it prints and no Ctrl/Alt/Meta shortcut is held. The VM's host types
 * it with whatever Shift/AltGr/dead key the guest's layout needs; one it cannot type is dropped.
 */
export const charMessageSchema = z.strictObject({ char: typedCharSchema });
export type CharMessage = z.infer<typeof charMessageSchema>;

export const pointerMessageSchema = z.strictObject({
  /** Guest screen pixels. */
  x: pointerCoordSchema,
  y: pointerCoordSchema,
  /** Bit 0 left, bit 1 right, bit 2 middle (`MouseEvent.buttons` order). */
  buttons: pointerButtonsSchema,
});
export type PointerMessage = z.infer<typeof pointerMessageSchema>;

export const wheelMessageSchema = z.strictObject({
  /** Notches; positive is down / right. */
  dx: wheelNotchesSchema,
  dy: wheelNotchesSchema,
});
export type WheelMessage = z.infer<typeof wheelMessageSchema>;

export const frameAckSchema = z.strictObject({
  /** `seq` of the `display:update` with `last: true` that was painted. */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Milliseconds the viewer spent decoding and painting it. */
  paintMs: z.number().min(0).max(600_000).optional(),
});
export type FrameAck = z.infer<typeof frameAckSchema>;

export const refreshMessageSchema = z.strictObject({}).optional();

/** Sound on or off for this viewer; a muted viewer gets no `audio:chunk`. */
export const audioListenSchema = z.strictObject({ on: z.boolean() });
export type AudioListenMessage = z.infer<typeof audioListenSchema>;

/**
 * The screen size the controlling viewer wants the guest to have: its area in device pixels
 * within GUEST_SCREEN_LIMITS (@raydesk/common's fitGuestScreen computes it). The guest switches
 * modes and the new size arrives as `display:resize`; view-only sessions may not ask.
 */
export const screenSizeMessageSchema = guestScreenSizeSchema.strict();
export type ScreenSizeMessage = z.infer<typeof screenSizeMessageSchema>;

/**
 * Every event a viewer may send, with the schema its payload must pass. The one list of client
 * events: their names, socket.io's event map and the gateway's validation all come from here,
 * and the gateway's handler table (sessions/session.ts) needs one handler per entry, taking the
 * schema's output.
 */
const clientEvents = {
  /** A frame was painted (see DisplayUpdate). */
  'frame:ack': { schema: frameAckSchema },
  'input:key': { schema: keyMessageSchema },
  'input:char': { schema: charMessageSchema },
  'input:pointer': { schema: pointerMessageSchema },
  'input:wheel': { schema: wheelMessageSchema },
  /** Ask for a full frame (e.g. after the page lost its canvas). */
  'display:refresh': { schema: refreshMessageSchema },
  /** Fit the guest's screen to the viewer (controlling session only). */
  'display:size': { schema: screenSizeMessageSchema },
  /** Unmute (start receiving `audio:chunk`) or mute. */
  'audio:listen': { schema: audioListenSchema },
} as const satisfies Record<string, { schema: z.ZodType }>;

export type ClientEventName = keyof typeof clientEvents;
type ClientInput<E extends ClientEventName> = z.input<(typeof clientEvents)[E]['schema']>;
/** The payload of each client event once its schema accepted it. */
export type ClientMessages = {
  [E in ClientEventName]: z.output<(typeof clientEvents)[E]['schema']>;
};

/**
 * The table, typed per event: indexed with a generic event name it gives that event's schema,
 * so a parse result and the handler of the same event line up without casts.
 */
export const CLIENT_EVENT_CONTRACT: {
  readonly [E in ClientEventName]: { readonly schema: z.ZodType<ClientMessages[E]> };
} = clientEvents;

export function isClientEvent(name: string): name is ClientEventName {
  return Object.hasOwn(clientEvents, name);
}

export const CLIENT_EVENTS: readonly ClientEventName[] =
  Object.keys(clientEvents).filter(isClientEvent);

/** socket.io's map of what the viewer emits; an event whose schema allows no payload may omit it. */
export type ClientToServerEvents = {
  [E in ClientEventName]: undefined extends ClientInput<E>
    ? (msg?: ClientInput<E>) => void
    : (msg: ClientInput<E>) => void;
} & TransferClientEvents;

// ---- Server -> client ------------------------------------------------------------------------

export type SessionMode = 'control' | 'view';

export interface Viewer {
  sessionId: string;
  name: string;
  role: 'user' | 'admin';
  mode: SessionMode;
}

export interface SessionReady {
  protocol: number;
  sessionId: string;
  vm: string;
  mode: SessionMode;
  /** True when this attach replaced this viewer's own earlier connection (a resume). */
  resumed: boolean;
  width: number;
  height: number;
  displayMode: DisplayMode;
  limits: { inputEventsPerSecond: number; maxClientMessageBytes: number };
  /** What the gateway enforces for this viewer (the viewer only reflects it). */
  policy: SessionPolicy;
}

export interface DisplayResizeMessage {
  width: number;
  height: number;
  mode: DisplayMode;
}

/** Solid colour, 0xRRGGBB. */
export interface FillRect {
  enc: 'fill';
  x: number;
  y: number;
  w: number;
  h: number;
  rgb: number;
}
/** An encoded image to draw at (x, y); its size is w x h. */
export interface ImageRect {
  enc: 'png' | 'jpeg';
  x: number;
  y: number;
  w: number;
  h: number;
  data: Uint8Array;
}
/**
 * Pixels the viewer already has, moved: the w x h area at (sx, sy) as it was before this update
 * is drawn at (x, y). A dragged window or a scrolled terminal is mostly these. Every copy of an
 * update reads the picture from before the update, whatever else the update paints first.
 */
export interface CopyRect {
  enc: 'copy';
  x: number;
  y: number;
  w: number;
  h: number;
  sx: number;
  sy: number;
}
export type WireRect = FillRect | ImageRect | CopyRect;

/** Whether the rect carries an encoded image (a binary attachment). */
export function isImageRect(rect: WireRect): rect is ImageRect {
  return rect.enc === 'png' || rect.enc === 'jpeg';
}
export type RectEncoding = WireRect['enc'];

/**
 * One frame, or one part of it. Rects are painted in order. A frame larger than
 * `LIMITS.maxServerMessageBytes`, or with more than `LIMITS.maxImagesPerMessage` images, is split
 * into several messages with the same `seq`; only the
 * one with `last: true` is acknowledged (`frame:ack`), after everything up to it is painted.
 */
export interface DisplayUpdate {
  seq: number;
  part: number;
  last: boolean;
  /** Covers the whole screen (first frame, after a resize, reconnect or refresh). */
  full: boolean;
  width: number;
  height: number;
  rects: WireRect[];
}

/**
 * The desktop's sound, while this viewer listens: Opus packets (mono, `frameSamples` samples
 * each at `sampleRate`) end to end in `data`, `sizes` their lengths. Nothing is sent while the
 * guest is silent. The viewer plays them with a short jitter buffer.
 */
export const audioMessageSchema = z.strictObject({
  seq: z.number().int().min(1),
  codec: z.literal('opus'),
  sampleRate: z.number().int().min(8_000).max(48_000),
  channels: z.number().int().min(1).max(2),
  frameSamples: z.number().int().min(1).max(5_760),
  /** When the guest's sound card played the first packet (gateway clock, ms since the epoch). */
  capturedAt: z.number(),
  sizes: z.array(z.number().int().min(1).max(1275)).min(1).max(100),
  /** socket.io hands binary to the browser as an ArrayBuffer. */
  data: z.union([z.instanceof(Uint8Array), z.instanceof(ArrayBuffer)]),
});
export type AudioMessage = z.infer<typeof audioMessageSchema>;

export interface WatchersMessage {
  /** Everyone else attached to this VM, view-only shadows included. */
  viewers: Viewer[];
}

export interface MovedMessage {
  reason: 'opened-elsewhere';
  /** Display name on the token of the endpoint that took over. */
  by: string;
}

export const CLOSE_REASONS = [
  'admin-disconnect',
  'vm-stopped',
  'vm-unavailable',
  'protocol-abuse',
  'gateway-shutdown',
  /** No input for the policy's idle timeout; the desktop keeps running. */
  'idle-timeout',
  /** The policy's maximum session length was reached; the desktop keeps running. */
  'session-time-limit',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export interface ClosedMessage {
  reason: CloseReason;
  message: string;
}

export const PROTOCOL_ERROR_CODES = [
  'bad_message', // failed schema validation
  'too_large', // above LIMITS.maxClientMessageBytes
  'unknown_event',
  'view_only', // input from a view-only (shadow) session
  'rate_limited',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

export interface ProtocolErrorMessage {
  code: ProtocolErrorCode;
  /** The offending event name, truncated, when known. */
  event?: string;
  message: string;
  /** Strikes left before disconnect; absent for errors that don't count (rate limit). */
  strikesLeft?: number;
}

export interface VmStateMessage {
  state: DomainState;
}

/**
 * Why the desktop cannot be used right now, while the session stays attached: the gateway lost
 * its hypervisor, the hypervisor restarted and boots the VM again, or the VM is starting.
 * `desktop-ready` ends it; sessions that attach meanwhile get `session:ready` once it is over.
 */
export const NOTICE_CODES = [
  'host-unreachable',
  'host-restarted',
  'desktop-starting',
  'desktop-stopped',
  'desktop-ready',
] as const;
export type NoticeCode = (typeof NOTICE_CODES)[number];

export const NOTICE_MESSAGES: Record<NoticeCode, string> = {
  'host-unreachable': "Lost contact with your desktop's host; waiting for it to come back.",
  'host-restarted': "Your desktop's host restarted; starting your desktop again.",
  'desktop-starting': 'Starting your desktop…',
  'desktop-stopped': 'Your desktop stopped. Open it again from the portal to start it.',
  'desktop-ready': 'Your desktop is back.',
};

export interface SessionNotice {
  code: NoticeCode;
  /** Plain words for the person at the screen. */
  message: string;
  /** True until the desktop can be used again (every code but `desktop-ready`). */
  waiting: boolean;
}

/** For the viewer: a notice it cannot parse is ignored. */
export const sessionNoticeSchema = z.object({
  code: z.enum(NOTICE_CODES),
  message: z.string().max(500),
  waiting: z.boolean(),
});

export interface ServerToClientEvents extends TransferServerEvents {
  'session:ready': (msg: SessionReady) => void;
  'session:watchers': (msg: WatchersMessage) => void;
  'session:moved': (msg: MovedMessage) => void;
  'session:closed': (msg: ClosedMessage) => void;
  'display:resize': (msg: DisplayResizeMessage) => void;
  'display:update': (msg: DisplayUpdate) => void;
  'audio:chunk': (msg: AudioMessage) => void;
  'vm:state': (msg: VmStateMessage) => void;
  'session:notice': (msg: SessionNotice) => void;
  'protocol:error': (msg: ProtocolErrorMessage) => void;
}
