// The hypervisor's control and display channel: the one definition of what crosses the
// boundary between the daemon and its clients (gateway, portal server, CLI): schemas and types
// here, the table of calls and events that uses them in contract.ts. Every request is validated
// with these schemas on the daemon side before it reaches a domain.
import {
  DOMAIN_STATES,
  domainIdSchema,
  guestScreenSizeSchema,
  keyCodeSchema,
  pointerButtonsSchema,
  pointerCoordSchema,
  typedCharSchema,
  wheelNotchesSchema,
  type DisplayMode,
  type DomainState,
  type GuestScreenSize,
} from '@raydesk/common';
import { z } from 'zod';

export { DOMAIN_STATES, domainIdSchema, type DisplayMode, type DomainState, type GuestScreenSize };

export const APPLIANCE_NAMES = ['console', 'desktop', 'browser'] as const;
export const applianceNameSchema = z.enum(APPLIANCE_NAMES);
export type ApplianceName = z.infer<typeof applianceNameSchema>;

export const domainKindSchema = z.enum(['personal', 'disposable', 'system']);
export type DomainKind = z.infer<typeof domainKindSchema>;

export interface DomainInfo {
  id: string;
  name: string;
  appliance: ApplianceName;
  kind: DomainKind;
  owner: string | null;
  state: DomainState;
  memoryMiB: number;
  vgaMemoryMiB: number;
  /** Share of one host core over the last sampling window, 0-100. */
  cpuPercent: number;
  /** Emulated instructions per second over the last sampling window, in millions. */
  mips: number;
  createdAt: string;
  startedAt: string | null;
  /** Milliseconds the domain has been running since it last started or resumed. */
  uptimeMs: number;
  watchers: number;
  /**
   * The guest finished booting: restored or cloned from a saved state, or after a cold boot
   * once its agent reported `* ready`. False while a cold-booting guest is still coming up.
   */
  guestReady: boolean;
  /**
   * The host restarted while this personal domain had viewers, and starts it again on its disk
   * by itself (it is `crashed` until its turn comes, then `starting`).
   */
  restartPending: boolean;
  /** Why the domain crashed, when state is `crashed`. */
  error: string | null;
  /** Credit scheduler weight and cap (percent of one core, 0 = no cap). */
  sched?: SchedParams;
}

export const SCHED_WEIGHT_MAX = 65535;
export const schedParamsSchema = z.object({
  /** Relative share of CPU when domains compete, as in Xen (default 256). */
  weight: z.number().int().min(1).max(SCHED_WEIGHT_MAX),
  /** Most CPU the domain may use, in percent of one core; 0 means no cap. */
  cap: z.number().int().min(0).max(100),
});
export type SchedParams = z.infer<typeof schedParamsSchema>;
/** `domain:sched`: without weight and cap it only reads the current values. */
export const domainSchedSchema = z
  .object({ id: domainIdSchema })
  .extend(schedParamsSchema.partial().shape)
  .strict();
export interface DomainSched extends SchedParams {
  id: string;
  /** Whether the host's scheduler is on (SCHEDULER=off turns it off). */
  enabled: boolean;
  /** CPU budget per accounting period in ms; null when unlimited. */
  budgetMs: number | null;
  periodMs: number;
  /** Guest CPU and time held back by the scheduler since the host started, ms. */
  cpuMs: number;
  throttledMs: number;
}

export const createDomainSchema = z.object({
  appliance: applianceNameSchema,
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)
    .optional(),
  memoryMiB: z.number().int().min(16).max(2048).optional(),
  kind: domainKindSchema.default('system'),
  owner: z.string().min(1).max(200).nullable().default(null),
  /** Boot from scratch instead of the appliance's golden snapshot. */
  coldBoot: z.boolean().default(false),
});
export type CreateDomainRequest = z.input<typeof createDomainSchema>;

/** The request of a call that needs nothing (host:info, domain:list). */
export const noRequestSchema = z.object({});
export const domainRefSchema = z.object({ id: domainIdSchema });
export const saveDomainSchema = z.object({
  id: domainIdSchema,
  /** Absolute path on the hypervisor host; defaults to the data directory. */
  file: z.string().min(1).max(4096).optional(),
});
/** What `domain:save` answers: the domain (now `saved`), its state file and that file's size. */
export interface SavedDomain {
  info: DomainInfo;
  file: string;
  bytes: number;
}
export const restoreDomainSchema = z.object({ file: z.string().min(1).max(4096) });
/** Text typed into the domain's serial console (ttyS0), as `xl console` lets an operator do. */
export const consoleInputSchema = z.object({
  id: domainIdSchema,
  text: z.string().min(1).max(4096),
});
/** A host address to listen on: an IP address and a port (0: any free port). */
export const listenAddressSchema = z.object({
  host: z.union([z.ipv4(), z.ipv6()]),
  port: z.number().int().min(0).max(65535),
});
export type ListenAddress = z.infer<typeof listenAddressSchema>;
/** Host-to-guest port forwards listen on loopback unless asked otherwise. */
export const DEFAULT_FORWARD_LISTEN: ListenAddress = { host: '127.0.0.1', port: 0 };
/** `domain:forward`: listen on the host and forward each connection to a guest port. */
export const portForwardSchema = z.object({
  id: domainIdSchema,
  guestPort: z.number().int().min(1).max(65535),
  listen: listenAddressSchema.default(DEFAULT_FORWARD_LISTEN),
});
/** `domain:unforward`: the forward listening on this port (and address, when given). */
export const portUnforwardSchema = z.object({
  id: domainIdSchema,
  listen: z.object({
    host: z.union([z.ipv4(), z.ipv6()]).optional(),
    port: z.number().int().min(1).max(65535),
  }),
});

/**
 * `domain:screen`: the guest's screen size as its X server reports it; with `size`, the guest
 * agent switches to that size first (appliances with a resizable X screen: the desktop).
 */
export const domainScreenSchema = z.object({
  id: domainIdSchema,
  size: guestScreenSizeSchema.optional(),
});

export const thumbnailSchema = z.object({
  id: domainIdSchema,
  width: z.number().int().min(16).max(4096).optional(),
});

// ---- Display -------------------------------------------------------------------------------

/** A changed rectangle of the guest screen, in pixels. Tiles are at most 64x64. */
export interface TileRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * One frame's worth of changes. `pixels` holds the RGBA bytes of each rect in `rects`, one after
 * another, each rect row-major with stride `w * 4`. A keyframe covers the whole screen.
 */
export interface DisplayFrame {
  domainId: string;
  seq: number;
  width: number;
  height: number;
  mode: DisplayMode;
  keyframe: boolean;
  rects: TileRect[];
  pixels: Uint8Array;
}

export interface DisplayResize {
  domainId: string;
  width: number;
  height: number;
  mode: DisplayMode;
}

// ---- Sound ---------------------------------------------------------------------------------

/** Audio on the control channel: Opus, mono, 20 ms packets at 24 kHz. */
export const AUDIO_FORMAT = {
  codec: 'opus',
  sampleRate: 24_000,
  channels: 1,
  frameSamples: 480,
} as const;

/**
 * The sound card's output over one pull tick (`audio:chunk`, while a connection listens):
 * Opus packets end to end in `data`, `sizes` their lengths. Silence sends nothing.
 */
export const audioChunkSchema = z.strictObject({
  domainId: domainIdSchema,
  /** Per domain, from 1; a gap means chunks were dropped. */
  seq: z.number().int().min(1),
  sampleRate: z.literal(AUDIO_FORMAT.sampleRate),
  channels: z.literal(AUDIO_FORMAT.channels),
  frameSamples: z.literal(AUDIO_FORMAT.frameSamples),
  /** When the first packet's samples left the guest's sound card (ms since the epoch). */
  capturedAt: z.number(),
  sizes: z.array(z.number().int().min(1).max(1275)).min(1).max(100),
  data: z.instanceof(Uint8Array),
});
export type AudioChunk = z.infer<typeof audioChunkSchema>;

// ---- Input ---------------------------------------------------------------------------------

export const keyEventSchema = z.object({
  id: domainIdSchema,
  code: keyCodeSchema,
  down: z.boolean(),
});
export type KeyEvent = z.infer<typeof keyEventSchema>;

export const charEventSchema = z.object({
  id: domainIdSchema,
  /** Typed with the Shift/AltGr state (or dead key) the guest's keyboard layout needs. */
  char: typedCharSchema,
});
export type CharEvent = z.infer<typeof charEventSchema>;

/** X keyboard layouts the guest agent can set (xkeyboard-config names, pc105 model). */
export const KEYBOARD_LAYOUTS = ['us', 'de', 'fr', 'gb'] as const;
export const keyboardLayoutSchema = z.enum(KEYBOARD_LAYOUTS);
export type KeyboardLayout = z.infer<typeof keyboardLayoutSchema>;
export const setKeyboardLayoutSchema = z.object({
  id: domainIdSchema,
  layout: keyboardLayoutSchema,
});

export const pointerEventSchema = z.object({
  id: domainIdSchema,
  /** Guest screen coordinates in pixels. */
  x: pointerCoordSchema,
  y: pointerCoordSchema,
  buttons: pointerButtonsSchema,
});
export type PointerEvent = z.infer<typeof pointerEventSchema>;

export const wheelEventSchema = z.object({
  id: domainIdSchema,
  dx: wheelNotchesSchema,
  dy: wheelNotchesSchema,
});
export type WheelEvent = z.infer<typeof wheelEventSchema>;

// ---- Results -------------------------------------------------------------------------------

export const ERROR_CODES = [
  'bad_request',
  'not_found',
  'illegal_transition',
  'insufficient_memory',
  /** Not enough free disk space for a state file. */
  'insufficient_disk',
  'appliance_unavailable',
  /** A durable disk was made on a different base image than the host has now. */
  'disk_mismatch',
  'internal',
  'unauthorized',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ApiError {
  code: ErrorCode;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };
export type Ack<T> = (result: Result<T>) => void;

export interface DiskInfo {
  kind: 'memory' | 'durable';
  /** Guest data in the overlay (written blocks x 4 KiB); -1 when not known (VM not running). */
  overlayBytes: number;
  /** Bytes the overlay file takes on the host disk; 0 for a memory overlay. */
  fileBytes: number;
  /** Block writes over the overlay's life; -1 when not known. */
  generation: number;
  base: { appliance: string; recipeHash: string; baseBytes: number };
  /** The overlay file of a durable disk. */
  path: string | null;
}

/** A domain's virtual NIC, its egress policy and its traffic (`vm net <id>`). */
export interface DomainNetworkInfo {
  id: string;
  kind: DomainKind;
  /** Emulated NIC model (the guest driver follows from it). */
  nic: string;
  /** The guest's address on its private segment, and the fake router that NATs it. */
  guestAddress: string;
  gateway: string;
  /** Whether a running worker holds a valid switch token. */
  attached: boolean;
  policy: {
    /** Ports open on public addresses, or any. */
    publicPorts: number[] | 'any';
    /** Allow-listed destinations (CIDR with optional port), for this kind. */
    allow: string[];
    denied: string;
  };
  counters: {
    connectionsOpened: number;
    connectionsDenied: number;
    /** Allowed by policy, but the destination did not answer. */
    connectionsFailed: number;
    openConnections: number;
    /** TCP payload bytes to the guest, and from it. */
    bytesIn: number;
    bytesOut: number;
    dnsQueries: number;
    /** Resolved addresses left out of DNS answers because the policy denies them. */
    dnsAnswersFiltered: number;
  };
  /** Most recent first. */
  recentDenials: Array<{ at: string; destination: string; reason: string }>;
  /** Host-to-guest port forwards open now (`vm forward`). */
  forwards: PortForwardInfo[];
}

/** A host port forwarded to a guest port; it closes when the VM stops running. */
export interface PortForwardInfo {
  domainId: string;
  guestPort: number;
  /** Where the host listens. */
  listen: ListenAddress;
  openedAt: string;
  connections: { open: number; total: number };
  bytesToGuest: number;
  bytesFromGuest: number;
}

/** In a fleet, a host whose last heartbeat (every 3 s) is older than this is offline. */
export const HOST_OFFLINE_AFTER_MS = 10_000;

export interface HostInfo {
  hostId: string;
  /** The host takes no new domains (`host:drain`). */
  draining: boolean;
  memoryBudgetMiB: number;
  memoryUsedMiB: number;
  domains: number;
  running: number;
  cores: number;
  /** Appliances with a standby domain ready now (a new VM of these starts in about a second). */
  standbyReady: ApplianceName[];
  /** 1-minute load average per core. */
  load: number;
}

// ---- Relocation and cloning ----------------------------------------------------------------

/** A peer host's control channel (it takes the same HYPERVISOR_SECRET). */
export const hostUrlSchema = z
  .string()
  .url()
  .max(2048)
  .refine((url) => /^https?:\/\//.test(url), 'an http(s) URL of a hypervisor control channel');

/** `domain:migrate`: move a running domain to the host at `to`, keeping its id and disk. */
export const migrateDomainSchema = z.object({ id: domainIdSchema, to: hostUrlSchema });

/** `domain:clone`: `count` copies of a running domain, here or on the host at `to`. */
export const cloneDomainSchema = z.object({
  id: domainIdSchema,
  count: z.number().int().min(1).max(16).default(1),
  to: hostUrlSchema.optional(),
});

/** `host:drain`: refuse new domains and move every running or paused one to `to`. */
export const drainHostSchema = z.object({ to: hostUrlSchema });

/** What a relocation did, measured on the sending host. */
export interface RelocationReport {
  id: string;
  fromHostId: string;
  toHostId: string;
  toUrl: string;
  /** Pre-copy rounds while the guest ran, not counting the final one. */
  rounds: number;
  /** Guest memory pages sent, in all rounds (4 KiB each). */
  pagesSent: number;
  /** Everything sent: pages, disk, device state. */
  bytes: number;
  diskBytes: number;
  totalMs: number;
  /** The guest paused on the sending host until it ran on the receiving one. */
  pausedMs: number;
  /** Where the pause went: its parts add up to about `pausedMs`. */
  pause: RelocationPauseBreakdown;
  /** Wall-clock time (ms since the epoch) the guest froze here, to line up with viewers. */
  frozenAt: number;
  /** The domain as the receiving host runs it. */
  info: DomainInfo;
}

export interface RelocationPauseBreakdown {
  /** Stopping the guest and settling its disk. */
  freezeMs: number;
  /** Finding and sending the pages written since the last round. */
  lastRoundMs: number;
  /** Pages found in that last round. */
  lastRoundPages: number;
  /** The disk overlay's tail (or a memory overlay's blocks). */
  diskMs: number;
  /** Taking the device state on the sender. */
  deviceStateMs: number;
  /** Sending it and the receiver restoring it (guest still paused there). */
  prepareMs: number;
  /** Of prepareMs: the receiver's part, from the call's arrival to its answer... */
  receiverMs: number;
  /** ...of which putting the received overlay file in place as the disk... */
  overlayMs: number;
  /** ...and restoring the device state over the received memory. */
  restoreMs: number;
  /** The commit: the sender's decision recorded, the receiver running the guest. */
  commitMs: number;
}

export interface DrainReport {
  moved: RelocationReport[];
  failed: Array<{ id: string; error: string }>;
}

/** Sent by the host a domain left: its viewers now watch it on `hostId` at `url`. */
export const domainMovedSchema = z.object({
  id: domainIdSchema,
  hostId: z.string().min(1).max(200),
  url: hostUrlSchema,
});
export type DomainMoved = z.infer<typeof domainMovedSchema>;

const binarySchema = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'binary data');
const relocationTokenSchema = z.uuid();
/** Chunk limit of one binary frame on the control channel (its socket.io buffer is 1 MB). */
export const RELOCATION_CHUNK_BYTES = 512 * 1024;
/**
 * Binary parts one control-channel message may carry: socket.io's parser (4.2.7's default)
 * closes the whole connection on a message with more, which a sender saw as "transport close".
 */
export const RELOCATION_MAX_ATTACHMENTS = 10;

/** `relocation:begin` (host to host): a domain is about to arrive. */
export const relocationBeginSchema = z.object({
  mode: z.enum(['move', 'clone']),
  spec: z.object({
    id: domainIdSchema,
    name: z.string().min(1).max(200),
    appliance: applianceNameSchema,
    kind: domainKindSchema,
    owner: z.string().min(1).max(200).nullable(),
    memoryMiB: z.number().int().min(16).max(2048),
    vgaMemoryMiB: z.number().int().min(1).max(64),
  }),
  createdAt: z.iso.datetime(),
  recipeHash: z.string().min(1).max(200),
  /** The build of that image the guest runs on: its disk and page cache are that build's. */
  imageBuildId: z.string().min(1).max(200),
  sched: schedParamsSchema,
  /** The sender's host id, for the log. */
  fromHostId: z.string().min(1).max(200),
  /**
   * The sender's control URL: a receiver holding a prepared domain that hears no commit asks
   * there (`relocation:decision`). Null: it waits for the sender.
   */
  fromUrl: hostUrlSchema.nullable(),
});
export interface RelocationBegun {
  token: string;
  hostId: string;
  /** The id the domain has there: the same for a move, a new one for a clone. */
  id: string;
}
export const relocationPagesSchema = z.object({
  token: relocationTokenSchema,
  /** Page numbers, u32 little-endian. */
  pages: binarySchema,
  data: binarySchema,
});
export const relocationDiskSchema = z.object({
  token: relocationTokenSchema,
  /** Where these bytes go in the overlay file (it is sent as it grows: file, then tail). */
  offset: z.number().int().min(0),
  bytes: binarySchema,
});
/** Most chunks one device state may come in (512 KiB each: 128 MiB). */
export const RELOCATION_STATE_CHUNKS_MAX = 256;
/**
 * `relocation:state`: one of the device state's first chunks, sent before `relocation:prepare`
 * when the whole state does not fit in that call's binary parts.
 */
export const relocationStateSchema = z.object({
  token: relocationTokenSchema,
  index: z
    .number()
    .int()
    .min(0)
    .max(RELOCATION_STATE_CHUNKS_MAX - 1),
  bytes: binarySchema,
});
export const relocationDiskBlocksSchema = z.object({
  token: relocationTokenSchema,
  blocks: binarySchema,
  data: binarySchema,
});
/**
 * `relocation:prepare`: all memory and disk are there; the receiver restores the device state
 * and holds the guest paused until `relocation:commit` (or an abort). Replies its restore time.
 */
export const relocationPrepareSchema = z.object({
  token: relocationTokenSchema,
  /** The device state (no RAM) in chunks: the ones after those sent by `relocation:state`. */
  deviceState: z.array(binarySchema).max(RELOCATION_MAX_ATTACHMENTS),
  /** How many chunks came before, by `relocation:state` (indices 0 to this - 1). */
  deviceStateAhead: z.number().int().min(0).max(RELOCATION_STATE_CHUNKS_MAX).default(0),
  /**
   * The last round's pages (found with the guest stopped), written before the restore: as many
   * as fit beside the device state within RELOCATION_MAX_ATTACHMENTS (two parts per chunk); the
   * sender sends the rest with `relocation:pages` just before.
   */
  pages: z
    .array(relocationPagesSchema.omit({ token: true }))
    .max(RELOCATION_MAX_ATTACHMENTS / 2)
    .default([]),
  /** The overlay file's final size; the receiver checks it has all of it. */
  diskFileBytes: z.number().int().min(0).nullable(),
});
/** `relocation:prepare`'s answer: where the receiver's part of the pause went, in ms. */
export interface RelocationPrepared {
  receiverMs: number;
  overlayMs: number;
  restoreMs: number;
}
export const relocationRefSchema = z.object({ token: relocationTokenSchema });
/** `relocation:decision` (asked of the sender by a receiver holding a prepared domain). */
export const relocationDecisionSchema = z.object({
  token: relocationTokenSchema,
  id: domainIdSchema,
});
/**
 * The sender's word on a relocation: `commit` (run it), `abort` (drop it: the sender runs it),
 * `pending` (not decided yet: ask again).
 */
export type RelocationDecision = 'commit' | 'abort' | 'pending';
