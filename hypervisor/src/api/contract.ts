// The control channel's contract, written once: every acknowledged call (its request schema and
// its response type), every fire-and-forget input event and every event the daemon sends. The
// socket.io event maps, the server's handler table (host/control-server.ts) and the client's
// `call` (client.ts) are all derived from it, so a handler or a client method that does not
// match its entry does not compile, and neither does a call without a handler.
//
// Adding a call: one entry in `controlCalls`, one handler in the control server, and, if it
// deserves a named method on HypervisorClient, one line there.
import type { z } from 'zod';
import {
  cloneDomainSchema,
  consoleInputSchema,
  createDomainSchema,
  drainHostSchema,
  migrateDomainSchema,
  relocationBeginSchema,
  relocationDiskBlocksSchema,
  relocationDiskSchema,
  relocationDecisionSchema,
  relocationPrepareSchema,
  relocationPagesSchema,
  relocationStateSchema,
  relocationRefSchema,
  domainRefSchema,
  domainSchedSchema,
  charEventSchema,
  domainScreenSchema,
  keyEventSchema,
  noRequestSchema,
  pointerEventSchema,
  portForwardSchema,
  portUnforwardSchema,
  restoreDomainSchema,
  saveDomainSchema,
  setKeyboardLayoutSchema,
  thumbnailSchema,
  wheelEventSchema,
  type Ack,
  type AudioChunk,
  type DiskInfo,
  type DisplayFrame,
  type DisplayResize,
  type DomainInfo,
  type DomainNetworkInfo,
  type DomainMoved,
  type DomainSched,
  type GuestScreenSize,
  type DrainReport,
  type HostInfo,
  type KeyboardLayout,
  type PortForwardInfo,
  type RelocationBegun,
  type RelocationDecision,
  type RelocationPrepared,
  type RelocationReport,
  type SavedDomain,
} from './protocol.ts';
import {
  clipboardGetSchema,
  clipboardSetSchema,
  outboxReadSchema,
  uploadBeginSchema,
  uploadChunkSchema,
  uploadEndSchema,
  uploadRefSchema,
  type ClipboardChanged,
  type OutboxChanged,
  type OutboxFile,
  type UploadBegun,
  type UploadDone,
  type UploadProgress,
} from './transfer.ts';

declare const responseType: unique symbol;
/** A response type in the table. The daemon builds responses itself, so they need no schema. */
export interface Returns<T> {
  readonly [responseType]?: T;
}
export function returns<T>(): Returns<T> {
  return {};
}

/** Acknowledged calls: the client waits for `Result<response>`. */
const calls = {
  'host:info': { request: noRequestSchema, response: returns<HostInfo>() },
  'domain:list': { request: noRequestSchema, response: returns<DomainInfo[]>() },
  'domain:get': { request: domainRefSchema, response: returns<DomainInfo>() },
  'domain:create': { request: createDomainSchema, response: returns<DomainInfo>() },
  'domain:pause': { request: domainRefSchema, response: returns<DomainInfo>() },
  'domain:unpause': { request: domainRefSchema, response: returns<DomainInfo>() },
  'domain:reboot': { request: domainRefSchema, response: returns<DomainInfo>() },
  /** Restart a crashed domain on its disk, or resume a saved one. */
  'domain:start': { request: domainRefSchema, response: returns<DomainInfo>() },
  /** Bring a domain to running from any state, from its saved state if the host lost its record. */
  'domain:resume': { request: domainRefSchema, response: returns<DomainInfo>() },
  'domain:destroy': { request: domainRefSchema, response: returns<DomainInfo>() },
  'domain:save': { request: saveDomainSchema, response: returns<SavedDomain>() },
  'domain:restore': { request: restoreDomainSchema, response: returns<DomainInfo>() },
  /** The serial console's recent output. */
  'domain:console': { request: domainRefSchema, response: returns<string>() },
  'domain:console-input': { request: consoleInputSchema, response: returns<null>() },
  /** Read, or set, a domain's credit scheduler weight and cap. */
  'domain:sched': { request: domainSchedSchema, response: returns<DomainSched>() },
  /** The domain's NIC, egress policy and traffic counters. */
  'domain:net': { request: domainRefSchema, response: returns<DomainNetworkInfo>() },
  /** Listen on a host port and forward its connections to a guest port (loopback by default). */
  'domain:forward': { request: portForwardSchema, response: returns<PortForwardInfo>() },
  'domain:unforward': { request: portUnforwardSchema, response: returns<PortForwardInfo>() },
  /** The domain's disk: memory or durable overlay, its size and the base image it needs. */
  'domain:disk': { request: domainRefSchema, response: returns<DiskInfo>() },
  /** Set the guest's X keyboard layout (guest agent); typed characters then follow it. */
  'domain:keyboard-layout': {
    request: setKeyboardLayoutSchema,
    response: returns<KeyboardLayout>(),
  },
  /** The guest's screen size; with `size`, set by the guest agent first (desktop appliance). */
  'domain:screen': { request: domainScreenSchema, response: returns<GuestScreenSize>() },
  /** Full-resolution PNG of the current screen. */
  'domain:screenshot': { request: domainRefSchema, response: returns<Uint8Array>() },
  /** Scaled PNG of the current screen; works whether or not anyone watches. */
  'domain:thumbnail': { request: thumbnailSchema, response: returns<Uint8Array>() },
  /** Start receiving `display:frame` for a domain; the first frame is a keyframe. */
  'display:watch': { request: domainRefSchema, response: returns<DisplayResize>() },
  'display:unwatch': { request: domainRefSchema, response: returns<null>() },
  /** Start receiving `audio:chunk` for a domain (the worker encodes only while someone listens). */
  'audio:listen': { request: domainRefSchema, response: returns<null>() },
  'audio:unlisten': { request: domainRefSchema, response: returns<null>() },
  /** Ask for a keyframe, e.g. after a viewer reconnects. */
  'display:refresh': { request: domainRefSchema, response: returns<null>() },
  /** Live relocation (pre-copy) of a running domain to another host; it keeps its id and disk. */
  'domain:migrate': { request: migrateDomainSchema, response: returns<RelocationReport>() },
  /** Copies of a running domain, each with a new id, identity and copy-on-write disk. */
  'domain:clone': { request: cloneDomainSchema, response: returns<DomainInfo[]>() },
  /** Refuse new domains and move every running or paused domain to another host. */
  'host:drain': { request: drainHostSchema, response: returns<DrainReport>() },
  /** Accept new domains again after a drain. */
  'host:undrain': { request: noRequestSchema, response: returns<HostInfo>() },
  // Host to host: the receiving end of a relocation (relocation/incoming.ts).
  'relocation:begin': { request: relocationBeginSchema, response: returns<RelocationBegun>() },
  'relocation:pages': { request: relocationPagesSchema, response: returns<null>() },
  'relocation:disk': { request: relocationDiskSchema, response: returns<null>() },
  'relocation:disk-blocks': { request: relocationDiskBlocksSchema, response: returns<null>() },
  'relocation:state': { request: relocationStateSchema, response: returns<null>() },
  /** Two-phase hand-over: prepare (restored, paused), then commit (runs) or abort (dropped). */
  'relocation:prepare': {
    request: relocationPrepareSchema,
    response: returns<RelocationPrepared>(),
  },
  'relocation:commit': { request: relocationRefSchema, response: returns<DomainInfo>() },
  'relocation:abort': { request: relocationRefSchema, response: returns<null>() },
  // Clipboard and files through the guest agent (api/transfer.ts, host/guest-transfer.ts).
  /** Put text into the guest's CLIPBOARD and/or PRIMARY; answers its UTF-8 bytes. */
  'clipboard:set': { request: clipboardSetSchema, response: returns<number>() },
  'clipboard:get': { request: clipboardGetSchema, response: returns<string>() },
  /** Start a file into ~/Uploads (refused when the guest's disk has no room for it). */
  'files:upload-begin': { request: uploadBeginSchema, response: returns<UploadBegun>() },
  'files:upload-chunk': { request: uploadChunkSchema, response: returns<UploadProgress>() },
  /** Name the finished upload; answers its final name and sha256. */
  'files:upload-end': { request: uploadEndSchema, response: returns<UploadDone>() },
  'files:upload-abort': { request: uploadRefSchema, response: returns<null>() },
  /** The files in the guest's ~/Send to browser. */
  'files:outbox': { request: domainRefSchema, response: returns<OutboxFile[]>() },
  /** TRANSFER_CHUNK_BYTES of an outbox file from `offset`; shorter at its end. */
  'files:read': { request: outboxReadSchema, response: returns<Uint8Array>() },
  /** Served by the sender: whether a relocation it began was committed. */
  'relocation:decision': {
    request: relocationDecisionSchema,
    response: returns<RelocationDecision>(),
  },
} as const;

/** Input events: no answer; an invalid one is dropped. */
const inputs = {
  'input:key': keyEventSchema,
  /** A typed character (see charEventSchema). */
  'input:char': charEventSchema,
  'input:pointer': pointerEventSchema,
  'input:wheel': wheelEventSchema,
} as const;

/** What the daemon sends on its own. */
export interface ControlEvents {
  'display:frame': DisplayFrame;
  'display:resize': DisplayResize;
  'audio:chunk': AudioChunk;
  'domain:state': DomainInfo;
  /** A relocation of the domain to that host began (a gateway may connect there ahead). */
  'domain:moving': DomainMoved;
  /** The domain now runs on another host; watch it there (the gateway switches its feed). */
  'domain:moved': DomainMoved;
  /** To a domain's watchers: the guest's CLIPBOARD now holds this text. */
  'clipboard:changed': ClipboardChanged;
  /** To a domain's watchers: the files in ~/Send to browser changed. */
  'files:outbox': OutboxChanged;
}

export type ControlCall = keyof typeof calls;
export type ControlInput = keyof typeof inputs;
/** What a client sends for a call (defaults not applied yet). */
export type CallRequest<K extends ControlCall> = z.input<(typeof calls)[K]['request']>;
/** What the call's handler gets: the request after its schema parsed it. */
export type ParsedRequest<K extends ControlCall> = z.output<(typeof calls)[K]['request']>;
export type CallResponse<K extends ControlCall> =
  (typeof calls)[K]['response'] extends Returns<infer T> ? T : never;
export type InputEvent<K extends ControlInput> = z.input<(typeof inputs)[K]>;
export type ParsedInput<K extends ControlInput> = z.output<(typeof inputs)[K]>;

/** The tables, typed per entry, so code that is generic over the name keeps its types. */
export const controlCalls: {
  readonly [K in ControlCall]: {
    readonly request: z.ZodType<ParsedRequest<K>, CallRequest<K>>;
    readonly response: Returns<CallResponse<K>>;
  };
} = calls;
export const controlInputs: {
  readonly [K in ControlInput]: z.ZodType<ParsedInput<K>, InputEvent<K>>;
} = inputs;

// ---- Derived: socket.io event maps and the server's handler tables -------------------------

/** What a client emits, typed by the table. */
export type ControlClientToServer = {
  [K in ControlCall]: (request: CallRequest<K>, ack: Ack<CallResponse<K>>) => void;
} & {
  [K in ControlInput]: (event: InputEvent<K>) => void;
};

/** What reaches the daemon: nothing is known about it until its schema has parsed it. */
export type ControlClientToServerUnchecked = {
  [K in ControlCall]: (request: unknown, ack: unknown) => void;
} & {
  [K in ControlInput]: (event: unknown) => void;
};

export type ControlServerToClient = {
  [K in keyof ControlEvents]: (payload: ControlEvents[K]) => void;
};

/** One handler per call, given the parsed request and the connection it came on. */
export type CallHandlers<Connection> = {
  [K in ControlCall]: (
    request: ParsedRequest<K>,
    connection: Connection,
  ) => CallResponse<K> | Promise<CallResponse<K>>;
};

export type InputHandlers<Connection> = {
  [K in ControlInput]: (event: ParsedInput<K>, connection: Connection) => void;
};
