/// <reference lib="dom" />
// Early attach: the viewer's connection to the gateway, opened before the viewer exists.
//
// A page that holds an attach token before its viewer has loaded (the portal's "Open desktop"
// answer, a desktop page's first bytes) joins the gateway at once. The gateway's answer, the
// session and the first frame wait here until the viewer adopts the connection (RemoteViewer,
// through early-transport.ts) and replays them, so the viewer's script load and the gateway's
// attach overlap instead of following each other.
//
// It speaks just enough of the published Engine.IO v4 and Socket.IO v5 protocols to join: open
// the WebSocket transport, send CONNECT with the viewer's auth payload once the server's OPEN
// arrives, answer pings until adopted. Light on purpose (no zod, no socket.io-client): a page
// loads it ahead of everything else.
import { PROTOCOL_VERSION } from '@raydesk/gateway/protocol-version';

/** What socket.io presents when it joins: the viewer's auth payload. */
export interface EarlyAuth {
  token: string;
  clientId: string;
  protocol: number;
}

export interface EarlyAttachOptions {
  /** The hypervisor domain the token is for (the viewer's `vmId`). */
  vmId: string;
  /** The gateway's socket.io URL (absolute, or relative to the page) and path. */
  gatewayUrl: string;
  path: string;
  token: string;
  /** Closed if no viewer adopts it by then (default 20 s): a page that never loaded its viewer. */
  adoptWithinMs?: number;
}

/** What engine.io-client's WebSocket transport uses of a WebSocket. */
export interface AdoptedSocket {
  binaryType: BinaryType;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(): void;
}

type Queued =
  | { kind: 'open'; event: Event }
  | { kind: 'message'; event: MessageEvent }
  | { kind: 'close'; event: CloseEvent }
  | { kind: 'error'; event: Event };

/** Engine.IO v4 packet types as the first character of a text frame. */
const EIO_OPEN = '0';
const EIO_PING = '2';
const EIO_PONG = '3';
/** Engine.IO MESSAGE carrying a Socket.IO CONNECT to the main namespace. */
const SIO_CONNECT = '40';

const REGISTRY = Symbol.for('raydesk.earlyAttach');

function registry(): Map<string, EarlyAttach> {
  const scope = globalThis as unknown as Record<symbol, Map<string, EarlyAttach> | undefined>;
  return (scope[REGISTRY] ??= new Map());
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The WebSocket URL socket.io-client opens for `gatewayUrl` and `path`, without its query. */
export function socketUrl(gatewayUrl: string, path: string, base: string): string {
  const url = new URL(gatewayUrl, base);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = `${path.replace(/\/+$/, '')}/`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

export class EarlyAttach {
  readonly vmId: string;
  readonly gatewayUrl: string;
  readonly path: string;
  readonly auth: EarlyAuth;
  private readonly url: string;
  private readonly ws: WebSocket;
  private readonly queue: Queued[] = [];
  private joined = false;
  private adopted = false;
  private closed = false;
  private readonly expiry: ReturnType<typeof setTimeout>;

  constructor(options: EarlyAttachOptions) {
    this.vmId = options.vmId;
    this.gatewayUrl = options.gatewayUrl;
    this.path = options.path;
    this.auth = { token: options.token, clientId: randomId(), protocol: PROTOCOL_VERSION };
    this.url = socketUrl(options.gatewayUrl, options.path, location.href);
    this.ws = new WebSocket(`${this.url}?EIO=4&transport=websocket`);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = (event) => this.queue.push({ kind: 'open', event });
    this.ws.onmessage = (event: MessageEvent) => this.received(event);
    this.ws.onclose = (event) => {
      this.closed = true;
      this.queue.push({ kind: 'close', event });
    };
    this.ws.onerror = (event) => this.queue.push({ kind: 'error', event });
    this.expiry = setTimeout(() => this.discard(), options.adoptWithinMs ?? 20_000);
  }

  /** Whether a viewer asking for `uri` (socket.io-client's WebSocket URL) can take this one. */
  matches(uri: string): boolean {
    const asked = new URL(uri, location.href);
    asked.search = '';
    return !this.adopted && asked.toString() === this.url;
  }

  /**
   * Hands the connection to engine.io-client: what happened so far replays once its handlers
   * are set (it sets them right after this returns), then events pass straight through.
   */
  adopt(): AdoptedSocket {
    this.adopted = true;
    clearTimeout(this.expiry);
    const ws = this.ws;
    // Whether the next CONNECT socket.io sends is a repeat of the one sent here.
    let repeatsOurs = this.joined;
    const socket: AdoptedSocket = {
      get binaryType() {
        return ws.binaryType;
      },
      set binaryType(value) {
        ws.binaryType = value;
      },
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
      send(data) {
        // socket.io sends its own CONNECT on the replayed OPEN; the gateway has ours already.
        if (repeatsOurs && typeof data === 'string' && data.startsWith(SIO_CONNECT)) {
          repeatsOurs = false;
          return;
        }
        ws.send(data);
      },
      close: () => ws.close(),
    };
    queueMicrotask(() => {
      const dispatch = (item: Queued) => {
        if (item.kind === 'open') socket.onopen?.(item.event);
        else if (item.kind === 'message') socket.onmessage?.(item.event);
        else if (item.kind === 'close') socket.onclose?.(item.event);
        else socket.onerror?.(item.event);
      };
      for (const item of this.queue.splice(0)) dispatch(item);
      ws.onopen = (event) => dispatch({ kind: 'open', event });
      ws.onmessage = (event: MessageEvent) => dispatch({ kind: 'message', event });
      ws.onclose = (event) => dispatch({ kind: 'close', event });
      ws.onerror = (event) => dispatch({ kind: 'error', event });
    });
    return socket;
  }

  /** Closes the connection unless a viewer adopted it. */
  discard(): void {
    if (this.adopted) return;
    this.adopted = true;
    if (registry().get(this.vmId) === this) registry().delete(this.vmId);
    if (!this.closed) this.ws.close();
    this.queue.length = 0;
  }

  private received(event: MessageEvent): void {
    const data: unknown = event.data;
    if (typeof data === 'string') {
      if (data === EIO_PING) {
        // Nobody else answers yet; the gateway closes a transport that misses a pong.
        this.ws.send(EIO_PONG);
        return;
      }
      if (data.startsWith(EIO_OPEN) && !this.joined) {
        this.joined = true;
        this.ws.send(SIO_CONNECT + JSON.stringify(this.auth));
      }
    }
    this.queue.push({ kind: 'message', event });
  }
}

/**
 * Joins the gateway for `vmId` now; the viewer that starts next for that VM on this page adopts
 * the connection. A second call for the same VM replaces the first.
 */
export function startEarlyAttach(options: EarlyAttachOptions): EarlyAttach {
  registry().get(options.vmId)?.discard();
  // When the page joined, for its own timing (and tests): performance.getEntriesByName.
  performance.mark('raydesk:early-attach');
  const early = new EarlyAttach(options);
  registry().set(options.vmId, early);
  return early;
}

/** The early connection waiting for `vmId`, taken out of the registry (once). */
export function takeEarlyAttach(vmId: string): EarlyAttach | null {
  viewersStarted().add(vmId);
  const early = registry().get(vmId) ?? null;
  if (early) registry().delete(vmId);
  return early;
}

const VIEWERS_STARTED = Symbol.for('raydesk.earlyAttach.viewersStarted');

function viewersStarted(): Set<string> {
  const scope = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return (scope[VIEWERS_STARTED] ??= new Set());
}

/**
 * Whether a viewer for `vmId` has started on this page already: it made its own connection, so a
 * page script that runs after it must not join too (that second join would take the desktop
 * over from it).
 */
export function viewerStarted(vmId: string): boolean {
  return viewersStarted().has(vmId);
}
