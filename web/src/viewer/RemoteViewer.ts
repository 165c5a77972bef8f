// RemoteViewer: the framework-agnostic viewer. A state machine over socket.io-client
//   idle -> connecting -> connected <-> reconnecting -> moved-elsewhere | disconnected | error
// plus the DOM it owns inside a container: toolbar (status pill, Ctrl-Alt-Del, clipboard send,
// fullscreen, disconnect), the canvas ("Remote desktop") and overlays.
// First: the gateway protocol below builds zod schemas (see zod-jitless.ts).
import '../lib/zod-jitless.ts';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  type ClientToServerEvents,
  type ClosedMessage,
  type DisplayUpdate,
  type MovedMessage,
  type ServerToClientEvents,
  type SessionReady,
  type Viewer,
} from '@raydesk/gateway/protocol';
import { Display } from './Display.ts';
import { handshakeErrorText } from './handshake-errors.ts';
import { KeyboardCapture } from './keyboard.ts';
import { textToStrokes } from './keymap.ts';
import { injectStyles } from './styles.ts';

export type ViewerState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'moved-elsewhere'
  | 'disconnected'
  | 'error';

export interface ViewerStateDetail {
  message?: string;
  /** moved-elsewhere: who took over; disconnected: the gateway's reason. */
  by?: string;
  reason?: string;
  mode?: 'control' | 'view';
}

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

export interface RemoteViewerOptions {
  gatewayUrl: string;
  vmId: string;
  /** A fresh attach token for every (re)connect, from the portal. */
  getToken: () => Promise<string>;
  onStateChange?: (state: ViewerState, detail: ViewerStateDetail) => void;
  /** Everyone else attached to the VM (an admin shadowing, for instance). */
  onWatchers?: (viewers: Viewer[]) => void;
  onPaint?: (info: PaintInfo) => void;
  /** Show the built-in toolbar (default true). */
  toolbar?: boolean;
  /** socket.io path on the gateway (default /socket.io). */
  path?: string;
}

type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const STATE_TEXT: Record<ViewerState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  'moved-elsewhere': 'Opened elsewhere',
  disconnected: 'Disconnected',
  error: 'Cannot connect',
};

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
  state: ViewerState = 'idle';
  mode: 'control' | 'view' | null = null;
  sessionId: string | null = null;
  readonly stats = { frames: 0, bytes: 0, lastPaintMs: 0 };

  private socket: ViewerSocket | null = null;
  private readonly clientId = randomId();
  private readonly keyboard: KeyboardCapture;
  private readonly ui: {
    pill: HTMLSpanElement;
    badge: HTMLSpanElement;
    overlay: HTMLDivElement;
    overlayTitle: HTMLHeadingElement;
    overlayText: HTMLParagraphElement;
    overlayButton: HTMLButtonElement;
    panel: HTMLDivElement;
    clipText: HTMLTextAreaElement;
    clipHint: HTMLSpanElement;
    inputButtons: HTMLButtonElement[];
  };
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

  constructor(
    readonly container: HTMLElement,
    readonly options: RemoteViewerOptions,
  ) {
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
    const cad = button('Ctrl-Alt-Del', 'Send Ctrl+Alt+Delete', () => this.sendCtrlAltDel());
    const clip = button('Clipboard', 'Type text into the desktop', () =>
      this.toggleClipboardPanel(),
    );
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
      el('span', { className: 'rd-spacer' }),
      cad,
      clip,
      full,
      quit,
    );
    toolbar.setAttribute('role', 'toolbar');
    toolbar.setAttribute('aria-label', 'Remote desktop controls');
    if (options.toolbar === false) toolbar.hidden = true;

    const overlayTitle = el('h2');
    const overlayText = el('p');
    const overlayButton = button('Reconnect', 'Connect again', () => this.connect());
    const overlay = el(
      'div',
      { className: 'rd-overlay', hidden: true },
      overlayTitle,
      overlayText,
      overlayButton,
    );

    const clipText = el('textarea', {
      placeholder: 'Text to type into the desktop (US keyboard layout)',
    });
    clipText.setAttribute('aria-label', 'Text to type into the desktop');
    const clipHint = el('span', { className: 'rd-hint' });
    const send = button('Type it', 'Type this text into the desktop', () => {
      const text = clipText.value;
      void this.sendText(text).then(({ skipped }) => {
        clipHint.textContent = skipped
          ? `${skipped} character(s) cannot be typed on a US layout`
          : 'Sent';
      });
    });
    const close = button('Close', 'Close', () => this.toggleClipboardPanel(false));
    const panel = el(
      'div',
      { className: 'rd-panel', hidden: true },
      clipText,
      el('div', { className: 'rd-row' }, clipHint, close, send),
    );

    const screen = el('div', { className: 'rd-screen' }, this.canvas, overlay);
    this.root = el('div', { className: 'rd-root' }, toolbar, screen, panel);
    container.appendChild(this.root);
    this.ui = {
      pill,
      badge,
      overlay,
      overlayTitle,
      overlayText,
      overlayButton,
      panel,
      clipText,
      clipHint,
      inputButtons: [cad, clip],
    };

    this.keyboard = new KeyboardCapture(this.canvas, (code, down) =>
      this.emitInput('input:key', { code, down }),
    );
    this.bindPointer();
    if (typeof ResizeObserver !== 'undefined') {
      this.resizeObserver = new ResizeObserver(() => this.fit());
      this.resizeObserver.observe(screen);
    }
    this.setState('idle');
  }

  // ---- Connection ------------------------------------------------------------------------

  connect(): void {
    if (this.destroyed) return;
    this.teardownSocket();
    this.moved = null;
    this.closed = null;
    this.setState('connecting');
    const socket: ViewerSocket = io(this.options.gatewayUrl, {
      path: this.options.path,
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.3,
      timeout: 10_000,
      auth: (cb) => {
        this.options.getToken().then(
          (token) => cb({ token, clientId: this.clientId, protocol: PROTOCOL_VERSION }),
          () => cb({ token: '', clientId: this.clientId, protocol: PROTOCOL_VERSION }),
        );
      },
    });
    this.socket = socket;
    socket.on('session:ready', (ready) => this.onReady(ready));
    socket.on('display:resize', (size) => {
      this.display.resize(size.width, size.height);
      this.fit();
    });
    socket.on('display:update', (update) => this.onUpdate(update));
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
    socket.on('vm:state', ({ state }) => {
      if (state !== 'running' && this.state === 'connected')
        this.ui.pill.textContent = `VM ${state}`;
      else if (this.state === 'connected') this.ui.pill.textContent = STATE_TEXT.connected;
    });
    socket.on('protocol:error', (error) => {
      if (error.code !== 'rate_limited') console.warn('raydesk gateway refused a message:', error);
    });
    socket.on('connect_error', (error) => {
      if (socket.active) {
        this.setState(this.state === 'connecting' ? 'connecting' : 'reconnecting');
        return;
      }
      const message = handshakeErrorText(error.message);
      this.setState('error', { message, reason: error.message });
    });
    socket.on('disconnect', (reason) => {
      this.keyboard.releaseAll();
      this.watchers = [];
      this.renderBadge();
      this.display.reset();
      this.firstPartAt.clear();
      if (this.moved) {
        this.setState('moved-elsewhere', {
          by: this.moved.by,
          message: `This desktop was opened elsewhere${this.moved.by ? ` (${this.moved.by})` : ''}.`,
        });
      } else if (this.closed) {
        this.setState('disconnected', { reason: this.closed.reason, message: this.closed.message });
      } else if (reason === 'io client disconnect') {
        this.setState('disconnected', { reason, message: 'You disconnected.' });
      } else if (socket.active) {
        this.setState('reconnecting', { reason });
      } else {
        this.setState('disconnected', { reason, message: 'The connection was closed.' });
      }
    });
  }

  disconnect(): void {
    this.keyboard.releaseAll();
    this.socket?.disconnect();
  }

  destroy(): void {
    this.destroyed = true;
    this.teardownSocket();
    this.keyboard.destroy();
    this.resizeObserver?.disconnect();
    cancelAnimationFrame(this.pointerFrame);
    this.root.remove();
  }

  private teardownSocket(): void {
    if (!this.socket) return;
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.socket = null;
  }

  private onReady(ready: SessionReady): void {
    this.mode = ready.mode;
    this.sessionId = ready.sessionId;
    this.display.resize(ready.width, ready.height);
    this.fit();
    this.keyboard.enabled = ready.mode === 'control';
    if (ready.mode === 'view') this.root.setAttribute('data-view-only', '');
    else this.root.removeAttribute('data-view-only');
    this.setState('connected', { mode: ready.mode });
    this.renderBadge();
  }

  private onUpdate(update: DisplayUpdate): void {
    const received = performance.now();
    if (!this.firstPartAt.has(update.seq)) this.firstPartAt.set(update.seq, received);
    let bytes = 0;
    for (const r of update.rects) bytes += r.enc === 'fill' ? 16 : r.data.byteLength;
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
    for (const b of this.ui.inputButtons)
      b.disabled = state !== 'connected' || this.mode !== 'control';
    this.root.dataset.state = state;
    this.ui.pill.dataset.state = state;
    this.ui.pill.textContent = STATE_TEXT[state];
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
      case 'reconnecting':
        show('Reconnecting…', 'The connection dropped; your desktop keeps running.', null);
        break;
      case 'moved-elsewhere':
        show(
          'Opened elsewhere',
          `${detail.message ?? 'This desktop was opened in another window.'} It keeps running there.`,
          'Use it here',
        );
        break;
      case 'disconnected':
        show('Disconnected', detail.message ?? 'The connection was closed.', 'Reconnect');
        break;
      case 'error':
        show('Cannot connect', detail.message ?? 'The desktop is unavailable.', 'Try again');
        break;
      case 'idle':
        show('Not connected', '', 'Connect');
        break;
    }
    this.options.onStateChange?.(state, detail);
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
  }

  /** Fits the guest screen into the available space, keeping its aspect ratio. */
  fit(): void {
    const screen = this.canvas.parentElement;
    if (!screen || !this.display.width) return;
    const availW = screen.clientWidth;
    const availH = screen.clientHeight;
    if (!availW || !availH) return;
    const scale = Math.min(availW / this.display.width, availH / this.display.height);
    this.canvas.style.width = `${Math.floor(this.display.width * scale)}px`;
    this.canvas.style.height = `${Math.floor(this.display.height * scale)}px`;
  }

  // ---- Input -----------------------------------------------------------------------------

  private emitInput<E extends 'input:key' | 'input:pointer' | 'input:wheel'>(
    event: E,
    msg: Parameters<ClientToServerEvents[E]>[0],
  ): void {
    if (this.state !== 'connected' || this.mode !== 'control' || !this.socket) return;
    (this.socket.emit as (e: string, m: unknown) => void)(event, msg);
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
      c.focus({ preventScroll: true });
      c.setPointerCapture?.(e.pointerId);
      e.preventDefault();
      queue(e, true);
    });
    c.addEventListener('pointerup', (e) => {
      e.preventDefault();
      queue(e, true);
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
    this.canvas.focus({ preventScroll: true });
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

  toggleClipboardPanel(open = this.ui.panel.hidden): void {
    this.ui.panel.hidden = !open;
    if (open) {
      this.ui.clipHint.textContent = '';
      navigator.clipboard?.readText?.().then(
        (text) => {
          if (text && !this.ui.clipText.value) this.ui.clipText.value = text;
        },
        () => undefined,
      );
      this.ui.clipText.focus();
    } else {
      this.canvas.focus({ preventScroll: true });
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
    this.canvas.focus({ preventScroll: true });
  }

  focus(): void {
    this.canvas.focus({ preventScroll: true });
  }
}
