// RemoteViewer: the framework-agnostic viewer. One state machine (status.ts has the diagram)
// over socket.io-client, which owns its reconnection: every connection lost for any cause but
// a takeover, a sign-out, an administrator's disconnect or a refusal is retried with backoff
// (reconnect.ts), each time with a fresh attach token from the portal. Plus the DOM it owns
// inside a container: toolbar (status pill, sound, Ctrl-Alt-Del, clipboard send, fullscreen,
// disconnect), the canvas ("Remote desktop") and overlays.
// First: the gateway protocol below builds zod schemas (see zod-jitless.ts).
import '@raydesk/common/zod-jitless';
import { fitGuestScreen, type GuestScreenSize } from '@raydesk/common';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  isImageRect,
  sessionNoticeSchema,
  type ClientToServerEvents,
  type ClosedMessage,
  type DisplayUpdate,
  type MovedMessage,
  type ServerToClientEvents,
  type SessionReady,
  type SessionPolicy,
  type Viewer,
} from '@raydesk/gateway/protocol';
import { AudioPlayer, type SoundState } from './audio.ts';
import { Display } from './Display.ts';
import { takeEarlyAttach, type EarlyAttach } from './early-attach.ts';
import { adoptingTransport } from './early-transport.ts';
import { handshakeErrorText } from './handshake-errors.ts';
import { KeyboardCapture, TextFieldCapture } from './keyboard.ts';
import { TouchGestures } from './touch.ts';
import { textToStrokes } from './keymap.ts';
import {
  AttachRefusedError,
  ReconnectPolicy,
  reconnects,
  type Disconnect,
  type ReconnectPolicyOptions,
} from './reconnect.ts';
import { statusText, type ViewerState, type ViewerStateDetail } from './status.ts';
import { injectStyles } from './styles.ts';
import { ViewerTransfer } from './transfer.ts';

export type { ViewerState, ViewerStateDetail } from './status.ts';

export interface PaintInfo {
  seq: number;
  full: boolean;
  rects: number;
  bytes: number;
  /** ms from the first part's arrival to the last rect painted. */
  paintMs: number;
  /** performance.now() when painted. */
  at: number;
}

/**
 * A token and, in a fleet, the gateway to use it on: each (re)attach may go through another
 * gateway (the portal hands out a live one), without a new viewer.
 */
export interface AttachTicket {
  token: string;
  gatewayUrl?: string;
  path?: string;
}

export interface RemoteViewerOptions {
  gatewayUrl: string;
  vmId: string;
  /**
   * A fresh attach token for every (re)connect, from the portal. Reject with
   * AttachRefusedError when the portal refuses (signed out, no access): the viewer stops and
   * says so. Any other rejection (portal down, network) is retried. A ticket naming a gateway
   * sends this attempt there instead of to gatewayUrl/path.
   */
  getToken: () => Promise<string | AttachTicket>;
  /**
   * A ticket that came with the page (the portal renders one into its viewer pages): the first
   * attempt uses it instead of calling getToken. Refused as stale, it is replaced at once. A
   * token is presented at most once per document: a viewer mounted again with the same page
   * (a router restoring a page it rendered before) asks getToken instead.
   */
  initialTicket?: AttachTicket;
  /** Offered as "Sign in" when the portal says the person is signed out. */
  onSignIn?: () => void;
  /** Backoff between reconnect attempts (reconnect.ts defaults). */
  reconnect?: Partial<ReconnectPolicyOptions>;
  onStateChange?: (state: ViewerState, detail: ViewerStateDetail) => void;
  /** Everyone else attached to the VM (an admin shadowing, for instance). */
  onWatchers?: (viewers: Viewer[]) => void;
  onPaint?: (info: PaintInfo) => void;
  /** Show the built-in toolbar (default true). */
  toolbar?: boolean;
  /** socket.io path on the gateway (default /socket.io). */
  path?: string;
  /**
   * The guest's screen follows the viewer's area in device pixels (within the gateway's limits)
   * when it opens, after the window is resized and in fullscreen. Default true; only a
   * controlling session asks.
   */
  followWindow?: boolean;
  /** Play the desktop's sound (default true; the toolbar's button mutes it). */
  sound?: boolean;
  /** Every decoded block of the desktop's sound (mono samples), e.g. for a level meter. */
  onAudioSamples?: (samples: Float32Array, sampleRate: number, transitMs: number) => void;
}

/**
 * Page tokens this document has presented. A token attaches once; a host page whose router
 * restores an earlier render (back/forward) mounts a viewer with a spent one. Kept small: only
 * the latest few can come back.
 */
const presentedPageTokens = new Set<string>();
const PRESENTED_PAGE_TOKENS_KEPT = 32;

/** The page's token unless this document already presented it; marks it presented. */
function unspent(ticket: AttachTicket | undefined): AttachTicket | null {
  if (!ticket || presentedPageTokens.has(ticket.token)) return null;
  presentedPageTokens.add(ticket.token);
  if (presentedPageTokens.size > PRESENTED_PAGE_TOKENS_KEPT) {
    const [oldest] = presentedPageTokens;
    if (oldest !== undefined) presentedPageTokens.delete(oldest);
  }
  return ticket;
}

/** A window being dragged fires resizes continuously: ask the guest once it settles. */
const SCREEN_SIZE_DEBOUNCE_MS = 300;

const SOUND_LABELS: Record<SoundState, { text: string; title: string }> = {
  on: { text: 'Sound on', title: 'Mute the desktop' },
  muted: { text: 'Muted', title: 'Play the desktop’s sound' },
  blocked: { text: 'Sound: click', title: 'The browser starts sound after a click or key press' },
  unavailable: {
    text: 'No sound',
    title: 'This browser plays the desktop’s sound only on a secure (https) page',
  },
};

type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A gateway's socket.io endpoint. */
interface Gateway {
  url: string;
  path: string;
}

/** socket.io's default path, spelled out so that gateways compare equal however named. */
const SOCKET_IO_PATH = '/socket.io';

function sameGateway(a: Gateway, b: Gateway): boolean {
  return a.url === b.url && a.path === b.path;
}

/** Why the viewer is reconnecting, in plain words, by the cause of the lost connection. */
function lostMessage(cause: Disconnect, closed: ClosedMessage | null): string {
  if (cause.kind === 'closed' && closed) return closed.message;
  if (cause.kind === 'token') return 'Cannot reach the portal.';
  if (cause.kind === 'handshake') return "Cannot reach your desktop's gateway.";
  return 'The connection dropped; your desktop keeps running.';
}

const KEY_INTERVAL_MS = 6; // clipboard typing pace: ~160 events/s, under the gateway's limit

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

export class RemoteViewer {
  readonly root: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly display: Display;
  readonly audio: AudioPlayer;
  state: ViewerState = 'idle';
  mode: 'control' | 'view' | null = null;
  sessionId: string | null = null;
  /** What the gateway enforces for this session (from session:ready); null before the first. */
  sessionPolicy: SessionPolicy | null = null;
  readonly stats = { frames: 0, bytes: 0, lastPaintMs: 0 };

  private socket: ViewerSocket | null = null;
  /** The gateway of the last ticket: the next attempt opens its socket there. */
  private gateway: Gateway;
  /** A ticket that came with the page, for the first attempt only (a token attaches once). */
  private pageTicket: AttachTicket | null;
  private clientId = randomId();
  private readonly policy: ReconnectPolicy;
  /** Bumped by every attempt; a slower earlier attempt must not act after a newer one. */
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private countdown: ReturnType<typeof setInterval> | null = null;
  /** When the current session became ready (for the backoff reset). */
  private readyAt: number | null = null;
  private detail: ViewerStateDetail = {};
  private readonly keyboard: KeyboardCapture;
  private readonly ui: {
    pill: HTMLSpanElement;
    badge: HTMLSpanElement;
    recorded: HTMLSpanElement;
    overlay: HTMLDivElement;
    overlayTitle: HTMLHeadingElement;
    overlayText: HTMLParagraphElement;
    overlayButton: HTMLButtonElement;
    panel: HTMLDivElement;
    clipText: HTMLTextAreaElement;
    clipHint: HTMLSpanElement;
    clipNote: HTMLParagraphElement;
    clipButtons: { send: HTMLButtonElement; paste: HTMLButtonElement; copy: HTMLButtonElement };
    inputButtons: HTMLButtonElement[];
    keysButton: HTMLButtonElement;
  };
  private readonly textField: TextFieldCapture;
  private readonly touch: TouchGestures;
  private moved: MovedMessage | null = null;
  private closed: ClosedMessage | null = null;
  private firstPartAt = new Map<number, number>();
  private pendingPointer: { x: number; y: number; buttons: number } | null = null;
  private pointerFrame = 0;
  private lastButtons = 0;
  private wheelAccum = 0;
  private watchers: Viewer[] = [];
  private resizeObserver: ResizeObserver | null = null;
  private destroyed = false;
  private typing: Promise<void> = Promise.resolve();
  private screenSizeTimer: ReturnType<typeof setTimeout> | null = null;
  /** The size last asked of the guest in this session. */
  private requestedSize: GuestScreenSize | null = null;
  /** Clipboard and files (transfer.ts). */
  readonly transfer: ViewerTransfer;
  private readonly syncClipboard = () => void this.transfer.syncToDesktop();

  constructor(
    readonly container: HTMLElement,
    readonly options: RemoteViewerOptions,
  ) {
    this.gateway = { url: options.gatewayUrl, path: options.path ?? SOCKET_IO_PATH };
    this.pageTicket = unspent(options.initialTicket);
    injectStyles(container.ownerDocument);
    this.canvas = el('canvas', { className: 'rd-canvas', tabIndex: 0 });
    this.canvas.setAttribute('aria-label', 'Remote desktop');
    this.canvas.setAttribute('role', 'application');
    this.display = new Display(this.canvas);
    this.display.resize(640, 480);

    const pill = el('span', { className: 'rd-pill' });
    pill.setAttribute('role', 'status');
    pill.setAttribute('aria-live', 'polite');
    const badge = el('span', { className: 'rd-badge', hidden: true });
    // The gateway records this session (its policy); the person at the screen is told.
    const recorded = el('span', { className: 'rd-rec', hidden: true });
    recorded.textContent = '● Recorded';
    recorded.title = 'This session is recorded: what you see is kept for your organisation.';
    recorded.setAttribute('role', 'status');
    const button = (label: string, title: string, onClick: () => void, extra = '') => {
      const b = el('button', {
        className: `rd-btn ${extra}`,
        type: 'button',
        title,
        textContent: label,
      });
      b.addEventListener('click', onClick);
      return b;
    };
    const sound = button('Sound', 'Mute the desktop', () => this.audio.toggle(), 'rd-sound');
    const cad = button('Ctrl-Alt-Del', 'Send Ctrl+Alt+Delete', () => this.sendCtrlAltDel());
    const clip = button('Clipboard', "The desktop's clipboard, and text to send to it", () =>
      this.toggleClipboardPanel(),
    );
    const keys = button('Keyboard', 'Show the on-screen keyboard', () =>
      this.showOnScreenKeyboard(),
    );
    const physical = button(
      'Game keys',
      "Send physical keys (for games): keys can be held, characters follow the desktop's layout instead of this keyboard's",
      () => this.setPhysicalKeys(this.keyboard.typeCharacters),
    );
    physical.setAttribute('aria-pressed', 'false');
    // Only phones and tablets need a button to bring up their keyboard.
    keys.hidden = !(
      navigator.maxTouchPoints > 0 || window.matchMedia?.('(pointer: coarse)').matches
    );
    this.transfer = new ViewerTransfer({
      onDesktopClipboard: (text, copiedLocally) => {
        clipText.value = text;
        clipHint.textContent = copiedLocally
          ? 'Copied in the desktop: now on this computer too'
          : 'Copied in the desktop: press "Copy here" to copy it to this computer';
      },
      onFilesPanelOpen: () => this.toggleClipboardPanel(false),
      onPermissions: () => this.reflectClipboardPolicy(),
    });
    const files = this.transfer.filesButton;
    const full = button(
      'Fullscreen',
      'Fullscreen (keyboard shortcuts go to the desktop)',
      () => void this.toggleFullscreen(),
    );
    const quit = button(
      'Disconnect',
      'Disconnect from the desktop',
      () => this.disconnect(),
      'rd-danger',
    );
    const toolbar = el(
      'div',
      { className: 'rd-toolbar' },
      pill,
      badge,
      recorded,
      el('span', { className: 'rd-spacer' }),
      keys,
      sound,
      cad,
      clip,
      physical,
      files,
      full,
      quit,
    );
    toolbar.setAttribute('role', 'toolbar');
    toolbar.setAttribute('aria-label', 'Remote desktop controls');
    if (options.toolbar === false) toolbar.hidden = true;

    const overlayTitle = el('h2');
    const overlayText = el('p');
    const overlayButton = button('Reconnect', 'Connect again', () => this.onOverlayButton());
    const overlay = el(
      'div',
      { className: 'rd-overlay', hidden: true },
      overlayTitle,
      overlayText,
      overlayButton,
    );

    const clipText = el('textarea', {
      placeholder: "Text for the desktop's clipboard; text copied in the desktop shows here",
    });
    clipText.setAttribute('aria-label', 'Clipboard text');
    const clipHint = el('span', { className: 'rd-hint' });
    const send = button('Type it', 'Type this text into the desktop', () => {
      const text = clipText.value;
      void this.sendText(text).then(({ skipped }) => {
        clipHint.textContent = skipped
          ? `${skipped} character(s) cannot be typed on a US layout`
          : 'Sent';
      });
    });
    const paste = button('Send to desktop', "Put this text into the desktop's clipboard", () => {
      this.transfer.sendClipboard(clipText.value).then(
        () => (clipHint.textContent = 'In the desktop clipboard: paste it there'),
        (error: Error) => (clipHint.textContent = error.message),
      );
    });
    const copy = button('Copy here', 'Copy this text to this computer', () => {
      navigator.clipboard.writeText(clipText.value).then(
        () => (clipHint.textContent = 'Copied to this computer'),
        () => {
          clipText.select();
          clipHint.textContent = 'Press Ctrl+C to copy the selected text';
        },
      );
    });
    const close = button('Close', 'Close', () => this.toggleClipboardPanel(false));
    const clipNote = el('p', { className: 'rd-hint rd-policy-note', hidden: true });
    const panel = el(
      'div',
      { className: 'rd-panel', hidden: true },
      clipNote,
      clipText,
      el('div', { className: 'rd-row' }, clipHint, close, copy, send, paste),
    );
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-label', 'Clipboard');

    // Keys and text go to this field once the desktop is clicked (TextFieldCapture); a phone
    // shows its keyboard for it (the Keyboard button). It sits under the canvas.
    const field = el('textarea', { className: 'rd-textfield' });
    field.setAttribute('aria-label', 'Type into the remote desktop');
    const fieldAttributes: [string, string][] = [
      ['autocapitalize', 'off'],
      ['autocomplete', 'off'],
      ['autocorrect', 'off'],
      ['spellcheck', 'false'],
      ['enterkeyhint', 'send'],
    ];
    for (const [name, value] of fieldAttributes) field.setAttribute(name, value);
    const screen = el('div', { className: 'rd-screen' }, field, this.canvas, overlay);
    this.transfer.bindDrop(screen);
    this.root = el(
      'div',
      { className: 'rd-root' },
      toolbar,
      screen,
      panel,
      this.transfer.filesPanel,
    );
    container.appendChild(this.root);
    this.ui = {
      pill,
      badge,
      recorded,
      overlay,
      overlayTitle,
      overlayText,
      overlayButton,
      panel,
      clipText,
      clipHint,
      clipNote,
      clipButtons: { send, paste, copy },
      inputButtons: [cad, clip, keys],
      keysButton: physical,
    };

    this.audio = new AudioPlayer(container.ownerDocument, {
      onListenChange: (on) => {
        if (this.socket?.connected) this.socket.emit('audio:listen', { on });
      },
      onStateChange: (state) => {
        sound.textContent = SOUND_LABELS[state].text;
        sound.title = SOUND_LABELS[state].title;
        sound.setAttribute('aria-pressed', String(state === 'on'));
        sound.disabled = state === 'unavailable';
      },
      onSamples: options.onAudioSamples,
    });
    if (options.sound === false) this.audio.setWanted(false);
    else this.audio.setWanted(true);

    this.policy = new ReconnectPolicy(options.reconnect);
    const sendChar = (char: string) => this.emitInput('input:char', { char });
    this.keyboard = new KeyboardCapture(
      this.canvas,
      (code, down) => this.emitInput('input:key', { code, down }),
      sendChar,
    );
    this.keyboard.attach(field);
    this.textField = new TextFieldCapture(
      field,
      (code) => {
        this.emitInput('input:key', { code, down: true });
        this.emitInput('input:key', { code, down: false });
      },
      sendChar,
    );
    this.touch = new TouchGestures({
      toGuest: (x, y) => this.toGuest(x, y),
      pointer: (p) => this.emitInput('input:pointer', p),
      wheel: (dy) => this.emitInput('input:wheel', { dx: 0, dy }),
    });
    this.bindPointer();
    // Text copied on this computer meanwhile follows into the desktop when the viewer is used again.
    this.canvas.addEventListener('focus', this.syncClipboard);
    container.ownerDocument.defaultView?.addEventListener('focus', this.syncClipboard);
    if (typeof ResizeObserver !== 'undefined') {
      this.resizeObserver = new ResizeObserver(() => {
        this.fit();
        this.scheduleScreenSize();
      });
      this.resizeObserver.observe(screen);
    }
    this.setState('idle');
  }

  // ---- Connection ------------------------------------------------------------------------

  /** Connects now: the first time, or again after the viewer stopped (a button, a host page). */
  connect(): void {
    if (this.destroyed) return;
    this.policy.reset();
    void this.open('connecting');
  }

  /** Skips the wait of a pending reconnect ("Reconnect now"). */
  reconnectNow(): void {
    if (this.destroyed || this.state !== 'reconnecting') return;
    void this.open('reconnecting');
  }

  disconnect(): void {
    this.keyboard.releaseAll();
    this.cancelRetry();
    // A connected socket reports its own disconnect; otherwise (waiting to retry, handshake in
    // flight) stop here.
    if (this.socket?.connected) {
      this.socket.disconnect();
      return;
    }
    this.teardownSocket();
    this.lost({ kind: 'user' });
  }

  destroy(): void {
    this.destroyed = true;
    this.attempt++;
    this.cancelRetry();
    this.teardownSocket();
    this.keyboard.destroy();
    this.textField.destroy();
    this.touch.cancel();
    this.container.ownerDocument.defaultView?.removeEventListener('focus', this.syncClipboard);
    this.audio.destroy();
    this.resizeObserver?.disconnect();
    if (this.screenSizeTimer) clearTimeout(this.screenSizeTimer);
    cancelAnimationFrame(this.pointerFrame);
    this.root.remove();
  }

  /**
   * One attempt. The socket's transport opens at once, on the gateway of the last ticket, while
   * the attach token comes (with the page, or from the portal): socket.io presents the token when
   * it joins the gateway, so the two waits overlap. A ticket naming another gateway (a fleet)
   * opens the socket again there.
   */
  private async open(state: 'connecting' | 'reconnecting'): Promise<void> {
    const attempt = ++this.attempt;
    this.cancelRetry();
    this.teardownSocket();
    this.moved = null;
    this.closed = null;
    this.setState(state, state === 'reconnecting' ? { ...this.detail, retryInMs: 0 } : {});
    // The first attempt adopts the connection the page opened for this VM early, if there is
    // one (early-attach.ts): its token was presented already.
    const early = attempt === 1 ? takeEarlyAttach(this.options.vmId) : null;
    if (early) this.clientId = early.auth.clientId;
    const fromPage: AttachTicket | null = early
      ? { token: early.auth.token, gatewayUrl: early.gatewayUrl, path: early.path }
      : this.pageTicket;
    this.pageTicket = null;
    const ticket = fromPage ? Promise.resolve(fromPage) : this.fetchTicket();
    // Settled here; the socket's auth callback only reads it.
    ticket.catch(() => undefined);
    const target = fromPage ? this.gatewayOf(fromPage) : this.gateway;
    this.openSocket(target, ticket, state, fromPage !== null, early);
    let answer: AttachTicket;
    try {
      answer = await ticket;
    } catch (error) {
      if (attempt !== this.attempt || this.destroyed) return;
      const refused =
        error instanceof AttachRefusedError ||
        (error instanceof Error && error.name === 'AttachRefusedError')
          ? (error as AttachRefusedError)
          : null;
      this.lost({ kind: 'token', refused: refused?.reason ?? null }, refused?.message);
      return;
    }
    if (attempt !== this.attempt || this.destroyed) return;
    this.gateway = this.gatewayOf(answer);
    if (!sameGateway(this.gateway, target))
      this.openSocket(this.gateway, Promise.resolve(answer), state, false);
  }

  private async fetchTicket(): Promise<AttachTicket> {
    const answer = await this.options.getToken();
    return typeof answer === 'string' ? { token: answer } : answer;
  }

  /** Where a ticket is to be used: the gateway it names, else the viewer's own. */
  private gatewayOf(ticket: AttachTicket): Gateway {
    return {
      url: ticket.gatewayUrl ?? this.options.gatewayUrl,
      path: ticket.path ?? this.options.path ?? SOCKET_IO_PATH,
    };
  }

  /** A socket to `target` that presents the ticket's token once both are there. */
  private openSocket(
    target: Gateway,
    ticket: Promise<AttachTicket>,
    state: 'connecting' | 'reconnecting',
    fromPage: boolean,
    early: EarlyAttach | null = null,
  ): void {
    this.teardownSocket();
    const socket: ViewerSocket = io(target.url, {
      path: target.path,
      transports: early ? [adoptingTransport(early)] : ['websocket'],
      forceNew: true,
      // The viewer reconnects itself (any cause, a fresh token each time): see lost().
      reconnection: false,
      timeout: 10_000,
      // Called when the transport is open; socket.io waits for cb. A ticket for another gateway
      // never reaches this one (open() moves the attempt there).
      auth: (cb) =>
        void ticket.then(
          (t) => {
            if (this.socket === socket && sameGateway(this.gatewayOf(t), target))
              cb({ token: t.token, clientId: this.clientId, protocol: PROTOCOL_VERSION });
          },
          () => undefined,
        ),
    });
    // engine.io-client opened its transport inside io(): an early connection it did not take
    // (another gateway) would hold a session nobody watches.
    early?.discard();
    this.socket = socket;
    this.transfer.attach(socket);
    socket.on('session:ready', (ready) => this.onReady(ready));
    socket.on('display:resize', (size) => {
      this.display.resize(size.width, size.height);
      this.fit();
    });
    socket.on('display:update', (update) => this.onUpdate(update));
    socket.on('audio:chunk', (chunk) => this.audio.receive(chunk));
    socket.on('session:watchers', ({ viewers }) => {
      this.watchers = viewers;
      this.renderBadge();
      this.options.onWatchers?.(viewers);
    });
    socket.on('session:moved', (moved) => {
      this.moved = moved;
    });
    socket.on('session:closed', (closed) => {
      this.closed = closed;
    });
    socket.on('session:notice', (raw) => {
      const notice = sessionNoticeSchema.safeParse(raw);
      if (!notice.success) return;
      const { code, message, waiting } = notice.data;
      if (waiting) this.keyboard.releaseAll();
      if (waiting)
        this.setState('waiting', { notice: code, message, mode: this.mode ?? undefined });
      else if (this.readyAt !== null) {
        this.setState('connected', { mode: this.mode ?? undefined });
        // The desktop may have come back as a new boot, at its default size.
        this.requestedSize = null;
        this.requestScreenSize();
      }
    });
    socket.on('vm:state', ({ state }) => {
      if (state !== 'running' && this.state === 'connected')
        this.ui.pill.textContent = `VM ${state}`;
      else if (this.state === 'connected') this.ui.pill.textContent = statusText('connected');
    });
    socket.on('protocol:error', (error) => {
      if (error.code !== 'rate_limited') console.warn('raydesk gateway refused a message:', error);
    });
    socket.on('connect_error', (error) => {
      // The page's token was stale (a tab left open, a page from the back-forward cache, a
      // second mount): ask the portal for a fresh one at once.
      if (fromPage && (error.message === 'token_expired' || error.message === 'unauthorized')) {
        void this.open(state);
        return;
      }
      // A socket opened while its ticket was on the way went to the last gateway, which may be
      // gone (a fleet): the ticket decides. Naming another gateway, open() has moved there.
      void ticket.then(
        (t) => {
          if (this.socket === socket && sameGateway(this.gatewayOf(t), target))
            this.lost({ kind: 'handshake', message: error.message });
        },
        () => undefined, // open() reports a ticket that did not come
      );
    });
    socket.on('disconnect', (reason) => {
      if (this.moved) this.lost({ kind: 'moved' });
      else if (this.closed) this.lost({ kind: 'closed', reason: this.closed.reason });
      else if (reason === 'io client disconnect') this.lost({ kind: 'user' });
      else this.lost({ kind: 'transport', reason });
    });
  }

  /** The connection ended (or never came up): stop and say why, or retry after a backoff. */
  private lost(cause: Disconnect, refusal?: string): void {
    // This attempt is over: a token still on its way must not open another socket.
    this.attempt++;
    const sessionMs = this.readyAt === null ? 0 : Date.now() - this.readyAt;
    this.readyAt = null;
    const closed = this.closed;
    this.teardownSocket();
    this.keyboard.releaseAll();
    this.watchers = [];
    this.renderBadge();
    this.display.reset();
    this.firstPartAt.clear();
    if (this.destroyed) return;
    if (!reconnects(cause)) {
      this.stopWith(cause, closed, refusal);
      return;
    }
    const delay = this.policy.nextDelay(sessionMs);
    const reason =
      cause.kind === 'transport'
        ? cause.reason
        : cause.kind === 'closed'
          ? cause.reason
          : cause.kind === 'handshake'
            ? cause.message
            : 'portal-unreachable';
    const retryAt = Date.now() + delay;
    const message = lostMessage(cause, closed);
    this.setState('reconnecting', { reason, message, retryInMs: delay });
    this.retryTimer = setTimeout(() => void this.open('reconnecting'), delay);
    this.countdown = setInterval(() => {
      if (this.state !== 'reconnecting') return;
      this.detail.retryInMs = Math.max(0, retryAt - Date.now());
      this.renderOverlay();
    }, 1000);
  }

  private stopWith(cause: Disconnect, closed: ClosedMessage | null, refusal?: string): void {
    this.attempt++;
    switch (cause.kind) {
      case 'moved':
        this.setState('moved-elsewhere', {
          by: this.moved?.by,
          message: `This desktop was opened elsewhere${this.moved?.by ? ` (${this.moved.by})` : ''}.`,
        });
        return;
      case 'closed':
        this.setState('disconnected', {
          reason: cause.reason,
          message: closed?.message ?? 'The connection was closed.',
        });
        return;
      case 'user':
        this.setState('disconnected', {
          reason: 'io client disconnect',
          message: 'You disconnected.',
        });
        return;
      case 'token':
        if (cause.refused === 'signed-out') {
          this.setState('disconnected', {
            reason: 'signed-out',
            message: refusal ?? 'You were signed out. Sign in again to reconnect.',
          });
        } else {
          this.setState('error', {
            reason: cause.refused ?? 'no-access',
            message: refusal ?? 'This desktop is not available to you.',
          });
        }
        return;
      case 'handshake':
        this.setState('error', {
          reason: cause.message,
          message: handshakeErrorText(cause.message),
        });
        return;
      case 'transport':
        // reconnects() retries every transport loss; kept for completeness of the switch.
        this.setState('disconnected', {
          reason: cause.reason,
          message: 'The connection was closed.',
        });
        return;
    }
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.countdown) clearInterval(this.countdown);
    this.retryTimer = null;
    this.countdown = null;
  }

  private onOverlayButton(): void {
    if (this.state === 'reconnecting') this.reconnectNow();
    else if (
      this.state === 'disconnected' &&
      this.detail.reason === 'signed-out' &&
      this.options.onSignIn
    )
      this.options.onSignIn();
    else this.connect();
  }

  private teardownSocket(): void {
    this.transfer.detach();
    if (!this.socket) return;
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.socket = null;
  }

  private onReady(ready: SessionReady): void {
    this.mode = ready.mode;
    this.sessionId = ready.sessionId;
    this.sessionPolicy = ready.policy;
    this.transfer.policy = ready.policy;
    this.transfer.mode = ready.mode;
    this.display.resize(ready.width, ready.height);
    this.fit();
    this.keyboard.enabled = ready.mode === 'control';
    if (ready.mode === 'view') this.root.setAttribute('data-view-only', '');
    else this.root.removeAttribute('data-view-only');
    this.readyAt = Date.now();
    this.audio.sessionStarted();
    this.setState('connected', { mode: ready.mode });
    this.renderBadge();
    this.requestedSize = null;
    this.requestScreenSize();
  }

  private onUpdate(update: DisplayUpdate): void {
    const received = performance.now();
    if (!this.firstPartAt.has(update.seq)) this.firstPartAt.set(update.seq, received);
    let bytes = 0;
    for (const r of update.rects) bytes += isImageRect(r) ? r.data.byteLength : 16;
    this.stats.bytes += bytes;
    const socket = this.socket;
    this.display.apply(update).then(
      () => {
        if (!update.last || socket !== this.socket) return;
        const started = this.firstPartAt.get(update.seq) ?? received;
        this.firstPartAt.delete(update.seq);
        const paintMs = performance.now() - started;
        this.stats.frames++;
        this.stats.lastPaintMs = paintMs;
        socket?.emit('frame:ack', { seq: update.seq, paintMs: Math.round(paintMs * 10) / 10 });
        this.options.onPaint?.({
          seq: update.seq,
          full: update.full,
          rects: update.rects.length,
          bytes,
          paintMs,
          at: performance.now(),
        });
      },
      () => undefined,
    );
  }

  // ---- State and UI ----------------------------------------------------------------------

  private setState(state: ViewerState, detail: ViewerStateDetail = {}): void {
    this.state = state;
    this.detail = { ...detail };
    for (const b of this.ui.inputButtons)
      b.disabled = state !== 'connected' || this.mode !== 'control';
    this.root.dataset.state = state;
    this.ui.pill.dataset.state = state;
    this.ui.pill.textContent = statusText(state, detail);
    this.renderOverlay();
    this.options.onStateChange?.(state, { ...detail });
  }

  private renderOverlay(): void {
    const { state, detail } = this;
    const overlay = this.ui.overlay;
    const show = (title: string, text: string, buttonLabel: string | null) => {
      this.ui.overlayTitle.textContent = title;
      this.ui.overlayText.textContent = text;
      this.ui.overlayButton.hidden = buttonLabel === null;
      if (buttonLabel) this.ui.overlayButton.textContent = buttonLabel;
      overlay.hidden = false;
    };
    switch (state) {
      case 'connected':
        overlay.hidden = true;
        break;
      case 'connecting':
        show('Connecting…', 'Attaching to your desktop.', null);
        break;
      case 'waiting':
        show(
          statusText(state, detail),
          detail.message ?? 'Your desktop is not available yet.',
          null,
        );
        break;
      case 'reconnecting': {
        const wait = detail.retryInMs ?? 0;
        const next = wait > 0 ? `Trying again in ${Math.ceil(wait / 1000)} s.` : 'Trying now…';
        show(
          'Reconnecting…',
          `${detail.message ?? 'The connection dropped; your desktop keeps running.'} ${next}`,
          'Reconnect now',
        );
        break;
      }
      case 'moved-elsewhere':
        show(
          'Opened elsewhere',
          `${detail.message ?? 'This desktop was opened in another window.'} It keeps running there.`,
          'Use it here',
        );
        break;
      case 'disconnected':
        show(
          statusText(state, detail),
          detail.message ?? 'The connection was closed.',
          detail.reason === 'signed-out' && this.options.onSignIn ? 'Sign in' : 'Reconnect',
        );
        break;
      case 'error':
        show('Cannot connect', detail.message ?? 'The desktop is unavailable.', 'Try again');
        break;
      case 'idle':
        show('Not connected', '', 'Connect');
        break;
    }
  }

  private renderBadge(): void {
    const others = this.watchers;
    const badge = this.ui.badge;
    const parts: string[] = [];
    if (this.mode === 'view' && this.state === 'connected') parts.push('View only');
    if (this.mode === 'control' && others.length) {
      parts.push(
        `Being watched by ${others.map((v) => v.name + (v.role === 'admin' ? ' (admin)' : '')).join(', ')}`,
      );
    }
    badge.textContent = parts.join(' · ');
    badge.title = badge.textContent;
    badge.hidden = parts.length === 0;
    this.ui.recorded.hidden = !(this.state === 'connected' && this.sessionPolicy?.recording);
  }

  /**
   * Fits the guest screen into the available space, keeping its aspect ratio, and keeps it
   * crisp: when it fits at one device pixel per guest pixel or more (a device pixel ratio of 2
   * included), the canvas is sized to a whole number of device pixels per guest pixel and drawn
   * `pixelated`, so no pixel is smeared over its neighbours; only a screen larger than the
   * space is scaled down, smoothly.
   */
  fit(): void {
    const screen = this.canvas.parentElement;
    if (!screen || !this.display.width) return;
    const availW = screen.clientWidth;
    const availH = screen.clientHeight;
    if (!availW || !availH) return;
    const dpr = window.devicePixelRatio || 1;
    const deviceScale = Math.min(
      (availW * dpr) / this.display.width,
      (availH * dpr) / this.display.height,
    );
    const whole = deviceScale >= 1;
    const scale = (whole ? Math.floor(deviceScale) : deviceScale) / dpr;
    this.canvas.style.width = `${whole ? this.display.width * scale : Math.floor(this.display.width * scale)}px`;
    this.canvas.style.height = `${whole ? this.display.height * scale : Math.floor(this.display.height * scale)}px`;
    this.canvas.style.imageRendering = whole ? 'pixelated' : 'auto';
  }

  /** The guest screen this viewer's area asks for: its size in device pixels, within limits. */
  wantedScreenSize(): GuestScreenSize | null {
    const screen = this.canvas.parentElement;
    if (!screen?.clientWidth || !screen.clientHeight) return null;
    const ratio = screen.ownerDocument.defaultView?.devicePixelRatio ?? 1;
    return fitGuestScreen(screen.clientWidth, screen.clientHeight, ratio);
  }

  private scheduleScreenSize(): void {
    if (this.screenSizeTimer) clearTimeout(this.screenSizeTimer);
    this.screenSizeTimer = setTimeout(() => {
      this.screenSizeTimer = null;
      this.requestScreenSize();
    }, SCREEN_SIZE_DEBOUNCE_MS);
  }

  /** Asks the guest for the size that fills this viewer, unless it has it or was asked already. */
  private requestScreenSize(): void {
    if (this.options.followWindow === false || this.mode !== 'control') return;
    if (this.state !== 'connected' || !this.socket) return;
    const size = this.wantedScreenSize();
    if (!size) return;
    const asked = this.requestedSize;
    if (asked && asked.width === size.width && asked.height === size.height) return;
    this.requestedSize = size;
    if (size.width === this.display.width && size.height === this.display.height) return;
    this.socket.emit('display:size', size);
  }

  // ---- Input -----------------------------------------------------------------------------

  private emitInput<E extends 'input:key' | 'input:char' | 'input:pointer' | 'input:wheel'>(
    event: E,
    ...msg: Parameters<ClientToServerEvents[E]>
  ): void {
    if (this.state !== 'connected' || this.mode !== 'control' || !this.socket) return;
    this.socket.emit(event, ...msg);
  }

  /** Exact guest pixel under a client (CSS) coordinate, whatever the scaling. */
  toGuest(clientX: number, clientY: number): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    const x = Math.floor(((clientX - rect.left) * this.display.width) / rect.width);
    const y = Math.floor(((clientY - rect.top) * this.display.height) / rect.height);
    return {
      x: Math.max(0, Math.min(this.display.width - 1, x)),
      y: Math.max(0, Math.min(this.display.height - 1, y)),
    };
  }

  private bindPointer(): void {
    const c = this.canvas;
    const queue = (e: PointerEvent | MouseEvent, immediate: boolean) => {
      // Fingers make gestures (touch.ts): tap, long press, two-finger scroll, drag.
      if ((e as PointerEvent).pointerType === 'touch') return;
      const { x, y } = this.toGuest(e.clientX, e.clientY);
      // MouseEvent.buttons is already bit0 left, bit1 right, bit2 middle.
      const buttons = e.buttons & 7;
      this.pendingPointer = { x, y, buttons };
      if (immediate || buttons !== this.lastButtons) {
        this.flushPointer();
      } else if (!this.pointerFrame) {
        this.pointerFrame = requestAnimationFrame(() => this.flushPointer());
      }
    };
    c.addEventListener('pointermove', (e) => queue(e, false));
    c.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'touch') {
        e.preventDefault();
        this.touch.down(e.pointerId, e.clientX, e.clientY);
        return;
      }
      // Keys then come to the text field, which also receives what arrives as text only (an
      // IME, dictation, an emoji picker, automation's insertText).
      this.focus();
      c.setPointerCapture?.(e.pointerId);
      e.preventDefault();
      queue(e, true);
    });
    c.addEventListener('pointerup', (e) => {
      e.preventDefault();
      if (e.pointerType === 'touch') this.touch.up(e.pointerId);
      else queue(e, true);
    });
    c.addEventListener('pointercancel', (e) => {
      if (e.pointerType === 'touch') this.touch.up(e.pointerId);
    });
    c.addEventListener('pointermove', (e) => {
      if (e.pointerType === 'touch') this.touch.move(e.pointerId, e.clientX, e.clientY);
    });
    c.addEventListener('contextmenu', (e) => e.preventDefault());
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
        this.wheelAccum += e.deltaY * unit;
        const notches = Math.trunc(this.wheelAccum / 50);
        if (notches) {
          this.wheelAccum -= notches * 50;
          this.emitInput('input:wheel', { dx: 0, dy: Math.max(-32, Math.min(32, notches)) });
        }
      },
      { passive: false },
    );
  }

  private flushPointer(): void {
    if (this.pointerFrame) cancelAnimationFrame(this.pointerFrame);
    this.pointerFrame = 0;
    const p = this.pendingPointer;
    if (!p) return;
    this.pendingPointer = null;
    this.lastButtons = p.buttons;
    this.emitInput('input:pointer', p);
  }

  // ---- Toolbar actions -------------------------------------------------------------------

  sendCtrlAltDel(): void {
    for (const [code, down] of [
      ['ControlLeft', true],
      ['AltLeft', true],
      ['Delete', true],
      ['Delete', false],
      ['AltLeft', false],
      ['ControlLeft', false],
    ] as const) {
      this.emitInput('input:key', { code, down });
    }
    this.focus();
  }

  /** Types text as key presses (US layout), paced under the gateway's input rate limit. */
  sendText(text: string): Promise<{ typed: number; skipped: number }> {
    const { strokes, skipped } = textToStrokes(text.slice(0, 10_000));
    const run = this.typing.then(async () => {
      let typed = 0;
      const pause = () => new Promise((r) => setTimeout(r, KEY_INTERVAL_MS));
      for (const s of strokes) {
        if (this.state !== 'connected') break;
        if (s.shift) this.emitInput('input:key', { code: 'ShiftLeft', down: true });
        this.emitInput('input:key', { code: s.code, down: true });
        await pause();
        this.emitInput('input:key', { code: s.code, down: false });
        if (s.shift) this.emitInput('input:key', { code: 'ShiftLeft', down: false });
        await pause();
        typed++;
      }
      return { typed, skipped };
    });
    this.typing = run.then(() => undefined);
    return run;
  }

  /**
   * The clipboard panel shows what the session may do: a direction that is off loses its
   * buttons (typing the text in counts as pasting) and the panel says why.
   */
  private reflectClipboardPolicy(): void {
    const toDesktop = this.transfer.denialReason('clipboardToGuest');
    const fromDesktop = this.transfer.denialReason('clipboardFromGuest');
    const { send, paste, copy } = this.ui.clipButtons;
    paste.hidden = send.hidden = toDesktop !== null;
    copy.hidden = fromDesktop !== null;
    const notes = [toDesktop, fromDesktop].filter((n): n is string => n !== null);
    this.ui.clipNote.hidden = notes.length === 0;
    this.ui.clipNote.textContent = notes.join(' ');
    this.ui.clipText.placeholder =
      toDesktop === null
        ? "Text for the desktop's clipboard; text copied in the desktop shows here"
        : 'Text copied in the desktop shows here';
  }

  toggleClipboardPanel(open = this.ui.panel.hidden): void {
    this.ui.panel.hidden = !open;
    if (open) {
      this.transfer.toggleFilesPanel(false);
      this.ui.clipHint.textContent = '';
      navigator.clipboard?.readText?.().then(
        (text) => {
          if (text && !this.ui.clipText.value) this.ui.clipText.value = text;
        },
        () => undefined,
      );
      this.ui.clipText.focus();
    } else {
      this.focus();
    }
  }

  async toggleFullscreen(): Promise<void> {
    const doc = this.root.ownerDocument;
    const nav = navigator as Navigator & {
      keyboard?: { lock?: (keys?: string[]) => Promise<void>; unlock?: () => void };
    };
    if (doc.fullscreenElement) {
      nav.keyboard?.unlock?.();
      await doc.exitFullscreen().catch(() => undefined);
      return;
    }
    await this.root.requestFullscreen?.().catch(() => undefined);
    // In fullscreen, Chromium lets a page take Escape, Alt-Tab-like and Ctrl+W style keys.
    await nav.keyboard?.lock?.().catch(() => undefined);
    this.focus();
  }

  /** Gives the desktop the keyboard (its text field, so that text-only input arrives too). */
  focus(): void {
    this.textField.field.focus({ preventScroll: true });
  }

  /** Focuses the hidden text field, which brings up a phone's or tablet's keyboard. */
  showOnScreenKeyboard(): void {
    this.textField.field.focus({ preventScroll: true });
  }

  /** Physical keys only (games), or characters as typed (the default). */
  setPhysicalKeys(on: boolean): void {
    this.keyboard.releaseAll();
    this.keyboard.typeCharacters = !on;
    this.ui.keysButton.setAttribute('aria-pressed', String(on));
    this.focus();
  }
}
