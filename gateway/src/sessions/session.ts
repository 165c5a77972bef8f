// One attached viewer: its socket, its encoder state (what it was last sent), its lag and
// quality, its input limits and the keys it holds down on the VM.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io';
import type { Logger } from 'pino';
import {
  CLIENT_EVENT_CONTRACT,
  LIMITS,
  NOTICE_MESSAGES,
  PROTOCOL_VERSION,
  isClientEvent,
  type ClientEventName,
  type ClientMessages,
  type ClientToServerEvents,
  type CloseReason,
  type ClosedMessage,
  type DisplayUpdate,
  type DomainState,
  isImageRect,
  type MovedMessage,
  type NoticeCode,
  type ProtocolErrorCode,
  type ServerToClientEvents,
  type Viewer,
} from '../protocol/browser.ts';
import type { AttachClaims, SessionInfo } from '../protocol/internal.ts';
import { ClientEncoder, splitRects } from '../encoder/client-encoder.ts';
import { LagController } from '../encoder/quality.ts';
import {
  WATERMARK_PERIOD_MS,
  watermarkOffsetMs,
  watermarks,
  type Watermark,
} from '../encoder/watermark.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { AudioChunk } from '@raydesk/hypervisor/api';
import type { FeedSubscriber, VmFeed } from './feed.ts';
import { StrikeCounter, TokenBucket, approxSize } from './limits.ts';
import { DEFAULT_SMALL_UPDATE_TILES, FlushTimer, frameDelayMs } from './pacing.ts';
import { isTransferEvent, TRANSFER_LIMITS, type OutboxFile } from '../protocol/transfer.ts';
import { DEFAULT_SESSION_POLICY, type SessionPolicy } from '../protocol/policy.ts';
import { allowAllTransfers, SessionTransfer, type TransferPolicy } from './transfer.ts';
import type { SessionRecorder } from '../recording/recorder.ts';

export type ViewerSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const MAX_HELD_KEYS = 32;
/** A policy minute; tests shorten it (GATEWAY_POLICY_MINUTE_MS). */
export const POLICY_MINUTE_MS = 60_000;

const minutesText = (minutes: number) => `${minutes} minute${minutes === 1 ? '' : 's'}`;

/** One handler per client event, each taking what that event's schema accepted. */
type ClientHandlers = {
  readonly [E in ClientEventName]: (msg: ClientMessages[E]) => void;
};

export interface SessionHooks {
  onEnded(session: ViewerSession, reason: string): void;
}

export class ViewerSession implements FeedSubscriber {
  readonly id = randomBytes(12).toString('base64url');
  readonly connectedAt = new Date();
  readonly encoder = new ClientEncoder();
  readonly lag = new LagController();
  feed: VmFeed | null = null;
  closed = false;
  /** `connect` was published for it (so `disconnect` is too). */
  announced = false;
  bytesSent = 0;
  framesSent = 0;
  /** Clipboard and files for this viewer (sessions/transfer.ts). */
  readonly transfer: SessionTransfer;
  audioBytesSent = 0;
  /** Set when the policy says `recording`: gets every update and resize as sent. */
  recorder: SessionRecorder | null = null;
  /** The watermark this viewer's picture carries now, null when its policy asks for none. */
  watermark: Watermark | null = null;

  private seq = 0;
  private inFlight: { seq: number; sentAt: number } | null = null;
  private nextAllowed = 0;
  private readonly flushTimer = new FlushTimer(() => this.flush());
  private watchdog: NodeJS.Timeout | null = null;
  private sentEpoch = -1;
  private readonly heldKeys = new Set<string>();
  private buttons = 0;
  private pointer = { x: 0, y: 0 };
  private readonly bucket = new TokenBucket(LIMITS.inputEventsPerSecond, LIMITS.inputBurst);
  private readonly strikes = new StrikeCounter(LIMITS.maxStrikes, LIMITS.strikeWindowMs);
  private lastRateNotice = 0;
  private watermarkTimer: NodeJS.Timeout | null = null;
  /** Last keyboard, pointer, wheel or character input (the idle timeout counts from it). */
  private lastInputAt = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private lengthTimer: NodeJS.Timeout | null = null;

  private readonly handlers: ClientHandlers = {
    'frame:ack': (msg) => this.onAck(msg.seq),
    'display:refresh': () => {
      if (!this.takeInputToken()) return;
      this.encoder.reset();
      this.schedule();
    },
    'display:size': (msg) => {
      // Only the VM's controlling viewer (its owner) sizes its screen; a shadow does not.
      if (!this.mayInput('display:size')) return;
      void this.feed.screen.request(msg);
    },
    'audio:listen': (msg) => {
      if (!this.takeInputToken() || !this.feed) return;
      this.feed.setAudio(this, msg.on);
    },
    'input:key': (msg) => {
      if (!this.mayInput('input:key')) return;
      const { code, down } = msg;
      if (down) {
        if (!this.heldKeys.has(code) && this.heldKeys.size >= MAX_HELD_KEYS) return;
        this.heldKeys.add(code);
      } else {
        this.heldKeys.delete(code);
      }
      this.feed.host.client.key(this.vm, code, down);
      this.metrics.inputEvents.inc({ kind: 'key' });
    },
    'input:char': (msg) => {
      if (!this.mayInput('input:char')) return;
      this.feed.host.client.char(this.vm, msg.char);
      this.metrics.inputEvents.inc({ kind: 'char' });
    },
    'input:pointer': (msg) => {
      if (!this.mayInput('input:pointer')) return;
      const fb = this.feed.fb;
      const x = Math.min(msg.x, Math.max(0, fb.width - 1));
      const y = Math.min(msg.y, Math.max(0, fb.height - 1));
      this.pointer = { x, y };
      this.buttons = msg.buttons;
      this.feed.host.client.pointer(this.vm, x, y, this.buttons);
      this.metrics.inputEvents.inc({ kind: 'pointer' });
    },
    'input:wheel': (msg) => {
      if (!this.mayInput('input:wheel')) return;
      this.feed.host.client.wheel(this.vm, msg.dx, msg.dy);
      this.metrics.inputEvents.inc({ kind: 'wheel' });
    },
  };

  constructor(
    readonly socket: ViewerSocket,
    readonly claims: AttachClaims,
    readonly clientId: string | null,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly hooks: SessionHooks,
    /** Updates this small skip the minimum interval (pacing.ts); 0: every update waits. */
    private readonly smallUpdateTiles = DEFAULT_SMALL_UPDATE_TILES,
    transferPolicy: TransferPolicy = allowAllTransfers,
    /** Length of one of the policy's minutes, ms (idle timeout, session length). */
    private readonly policyMinuteMs = POLICY_MINUTE_MS,
  ) {
    this.transfer = new SessionTransfer(
      this,
      { user: claims.sub, name: claims.name, role: claims.role, vm: claims.vm },
      transferPolicy,
      log,
    );
    socket.onAny((event: unknown, ...args: unknown[]) => this.dispatch(event, args));
    socket.on('disconnect', (reason) => this.end(`client: ${reason}`));
    if (this.policy.watermark) this.stampWatermark();
  }

  /**
   * Stamps the viewer's picture with its email (or name), the current minute and its address
   * (socket.handshake.address: the proxy-forwarded one, see server.ts), and again each minute,
   * a fixed few seconds past it for this email and address (watermarkOffsetMs).
   */
  private stampWatermark(): void {
    const email = this.claims.email ?? this.claims.name;
    const address = this.socket.handshake.address ?? '';
    const offset = watermarkOffsetMs(email, address);
    const shifted = Date.now() - offset;
    this.watermark = watermarks.get({ email, at: shifted, address });
    this.encoder.setWatermark(this.watermark);
    const wait = WATERMARK_PERIOD_MS - (shifted % WATERMARK_PERIOD_MS) + 20;
    this.watermarkTimer = setTimeout(() => {
      if (this.closed) return;
      this.stampWatermark();
      this.schedule();
    }, wait);
    this.watermarkTimer.unref();
  }

  /** What this viewer may do: the token's policy, or the default for a token without one. */
  get policy(): SessionPolicy {
    return this.claims.policy ?? DEFAULT_SESSION_POLICY;
  }

  get vm(): string {
    return this.claims.vm;
  }
  get mode(): 'control' | 'view' {
    return this.claims.mode;
  }

  viewer(): Viewer {
    return { sessionId: this.id, name: this.claims.name, role: this.claims.role, mode: this.mode };
  }

  info(): SessionInfo {
    return {
      id: this.id,
      vm: this.vm,
      userId: this.claims.sub,
      name: this.claims.name,
      role: this.claims.role,
      mode: this.mode,
      clientId: this.clientId,
      remoteAddress: this.socket.handshake.address ?? null,
      connectedAt: this.connectedAt.toISOString(),
      bytesSent: this.bytesSent,
      framesSent: this.framesSent,
      lagMs: Math.round(this.lag.lagMs),
      jpegQuality: this.lag.current.jpegQuality,
    };
  }

  /** Starts streaming: tells the viewer its session and sends a full frame at once. */
  begin(feed: VmFeed, resumed: boolean): void {
    this.feed = feed;
    this.sentEpoch = feed.fb.epoch;
    this.socket.emit('session:ready', {
      protocol: PROTOCOL_VERSION,
      sessionId: this.id,
      vm: this.vm,
      mode: this.mode,
      resumed,
      width: feed.fb.width,
      height: feed.fb.height,
      displayMode: feed.fb.mode,
      limits: {
        inputEventsPerSecond: LIMITS.inputEventsPerSecond,
        maxClientMessageBytes: LIMITS.maxClientMessageBytes,
      },
      policy: this.policy,
    });
    this.socket.emit('transfer:ready', {
      permissions: this.transfer.permissions,
      limits: TRANSFER_LIMITS,
    });
    if (feed.state) this.socket.emit('vm:state', { state: feed.state });
    this.encoder.reset();
    this.watchdog = setInterval(() => {
      if (this.inFlight) this.lag.observePending(Date.now() - this.inFlight.sentAt);
    }, 1000);
    this.watchdog.unref();
    this.startPolicyTimers();
    this.flush();
  }

  /**
   * The policy's idle timeout (control sessions: only they send input) and maximum session
   * length. Either ends this viewer with its own reason; the desktop keeps running.
   */
  private startPolicyTimers(): void {
    const { idleTimeoutMinutes, maxSessionMinutes } = this.policy;
    if (idleTimeoutMinutes > 0 && this.mode === 'control') {
      const idleMs = idleTimeoutMinutes * this.policyMinuteMs;
      const check = () => {
        const left = this.lastInputAt + idleMs - Date.now();
        if (left > 0) {
          this.idleTimer = setTimeout(check, left);
          return;
        }
        this.end('idle-timeout', {
          closed: {
            reason: 'idle-timeout',
            message: `Disconnected after ${minutesText(idleTimeoutMinutes)} without input. Your desktop keeps running; connect again to continue.`,
          },
        });
      };
      this.idleTimer = setTimeout(check, idleMs);
    }
    if (maxSessionMinutes > 0) {
      this.lengthTimer = setTimeout(() => {
        this.end('session-time-limit', {
          closed: {
            reason: 'session-time-limit',
            message: `Your session reached its limit of ${minutesText(maxSessionMinutes)}. Your desktop keeps running; connect again to continue.`,
          },
        });
      }, maxSessionMinutes * this.policyMinuteMs);
    }
  }

  // ---- Display ---------------------------------------------------------------------------

  onFeedUpdate(): void {
    this.schedule();
  }
  onFeedResize(): void {
    this.schedule();
  }
  onFeedState(state: DomainState): void {
    if (this.closed) return;
    this.socket.emit('vm:state', { state });
  }
  onFeedNotice(code: NoticeCode): void {
    if (this.closed) return;
    const waiting = code !== 'desktop-ready';
    // The VM may come back as a new boot: keys held before must not stay down in it.
    if (waiting) this.releaseInput();
    this.socket.emit('session:notice', { code, message: NOTICE_MESSAGES[code], waiting });
  }
  onFeedAudio(chunk: AudioChunk): void {
    if (this.closed) return;
    const { seq, sampleRate, channels, frameSamples, capturedAt, sizes, data } = chunk;
    this.audioBytesSent += data.byteLength;
    this.socket.emit('audio:chunk', {
      seq,
      codec: 'opus',
      sampleRate,
      channels,
      frameSamples,
      capturedAt,
      sizes,
      data,
    });
  }
  onFeedGone(reason: CloseReason, message: string): void {
    this.end(reason, { closed: { reason, message } });
  }
  onFeedClipboard(text: string): void {
    const allowed = this.transfer.clipboardForViewer(text);
    if (!this.closed && allowed !== null) this.socket.emit('clipboard:changed', { text: allowed });
  }
  onFeedOutbox(files: OutboxFile[]): void {
    const allowed = this.transfer.outboxForViewer(files);
    if (!this.closed && allowed !== null) this.socket.emit('files:outbox', { files: allowed });
  }

  private schedule(delayMs = 0): void {
    if (this.closed || !this.feed || this.inFlight) return;
    if (!this.encoder.mayHaveChanges(this.feed.fb)) return;
    const now = Date.now();
    const wait = frameDelayMs({
      now,
      nextAllowed: this.nextAllowed,
      delayMs,
      changedTiles: this.encoder.changedTiles(this.feed.fb, this.smallUpdateTiles),
      smallUpdateTiles: this.smallUpdateTiles,
    });
    this.flushTimer.arm(wait, now);
  }

  /** Encodes what this viewer has not seen and sends it, if no frame is in flight. */
  flush(): void {
    const feed = this.feed;
    if (this.closed || !feed || this.inFlight || !feed.ready) return;
    const fb = feed.fb;
    if (fb.epoch !== this.sentEpoch) {
      this.sentEpoch = fb.epoch;
      this.socket.emit('display:resize', { width: fb.width, height: fb.height, mode: fb.mode });
      this.recorder?.resize(fb.width, fb.height, fb.mode);
    }
    const tier = this.lag.current;
    const frame = this.encoder.encode(fb, {
      jpegQuality: tier.jpegQuality,
      regions: feed.regions,
      keyframe: feed.keyframe,
      copies: true,
    });
    this.metrics.encodeSeconds.observe(frame.encodeMs / 1000);
    if (frame.keyframeBlocks) {
      const { encoded, reused } = frame.keyframeBlocks;
      if (encoded) this.metrics.keyframeBlocks.inc({ outcome: 'encoded' }, encoded);
      if (reused) this.metrics.keyframeBlocks.inc({ outcome: 'reused' }, reused);
    }
    if (frame.regions.encoded)
      this.metrics.regions.inc({ outcome: 'encoded' }, frame.regions.encoded);
    if (frame.regions.reused) this.metrics.regions.inc({ outcome: 'reused' }, frame.regions.reused);
    if (frame.rects.length === 0) {
      // Nothing new. Tiles sent as JPEG get re-sent losslessly once they settle.
      if (this.encoder.pendingRefinement || this.encoder.pendingRestamp) this.schedule(300);
      return;
    }
    const seq = ++this.seq;
    const parts = splitRects(frame.rects, LIMITS.maxServerMessageBytes);
    parts.forEach((rects, part) => {
      const update: DisplayUpdate = {
        seq,
        part,
        last: part === parts.length - 1,
        full: frame.full,
        width: fb.width,
        height: fb.height,
        rects,
      };
      this.socket.emit('display:update', update);
      this.recorder?.frame(update);
    });
    const now = Date.now();
    this.inFlight = { seq, sentAt: now };
    this.nextAllowed = now + tier.minIntervalMs;
    this.bytesSent += frame.bytes;
    this.framesSent++;
    this.metrics.framesSent.inc();
    for (const r of frame.rects) {
      this.metrics.bytesSent.inc({ encoding: r.enc }, isImageRect(r) ? r.data.length : 24);
    }
  }

  private onAck(seq: number): void {
    if (!this.inFlight || seq !== this.inFlight.seq) return; // stale or bogus: ignore
    const rtt = Date.now() - this.inFlight.sentAt;
    this.lag.observe(rtt);
    this.metrics.lagSeconds.observe(rtt / 1000);
    this.inFlight = null;
    this.schedule();
  }

  // ---- Client messages -------------------------------------------------------------------

  dispatch(event: unknown, args: unknown[]): void {
    if (this.closed) return;
    const name = typeof event === 'string' ? event : String(typeof event);
    if (isTransferEvent(name)) {
      this.transfer.dispatch(name, args);
      return;
    }
    if (!isClientEvent(name)) {
      this.protocolError('unknown_event', name, 'unknown event');
      return;
    }
    const payload = args.filter((a) => typeof a !== 'function');
    if (approxSize(payload, LIMITS.maxClientMessageBytes) > LIMITS.maxClientMessageBytes) {
      this.protocolError(
        'too_large',
        name,
        `messages are limited to ${LIMITS.maxClientMessageBytes} bytes`,
      );
      return;
    }
    if (payload.length > 1) {
      this.protocolError('bad_message', name, 'one argument expected');
      return;
    }
    this.handle(name, payload[0]);
  }

  /** Validates a payload with its event's schema and hands what passed to that event's handler. */
  private handle<E extends ClientEventName>(event: E, payload: unknown): void {
    const parsed = CLIENT_EVENT_CONTRACT[event].schema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.map(String).join('.').slice(0, 40);
      this.protocolError(
        'bad_message',
        event,
        `${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`.slice(0, 160),
      );
      return;
    }
    this.handlers[event](parsed.data);
    if (this.mode === 'control' && event.startsWith('input:')) {
      this.lastInputAt = Date.now();
      this.recorder?.input(event, parsed.data as Record<string, unknown>);
    }
  }

  private takeInputToken(): boolean {
    if (this.bucket.take()) return true;
    const now = Date.now();
    if (now - this.lastRateNotice >= 1000) {
      this.lastRateNotice = now;
      this.protocolError(
        'rate_limited',
        undefined,
        `more than ${LIMITS.inputEventsPerSecond} input events per second`,
      );
    }
    return false;
  }

  /** Input is for the controlling session, within its rate, while the VM is there. */
  private mayInput(event: ClientEventName): this is { feed: VmFeed } {
    if (this.mode !== 'control') {
      this.protocolError('view_only', event, 'this session is view-only');
      return false;
    }
    // While the VM is away (host restarting, booting) input would reach nothing or a stale boot.
    return this.takeInputToken() && !!this.feed && !this.feed.outage;
  }

  protocolError(code: ProtocolErrorCode, event: string | undefined, message: string): void {
    if (this.closed) return;
    this.metrics.protocolErrors.inc({ code });
    const strikesLeft = this.strikes.add();
    this.socket.emit('protocol:error', {
      code,
      ...(event !== undefined ? { event: event.slice(0, 64) } : {}),
      message,
      strikesLeft,
    });
    if (strikesLeft === 0) {
      this.log.warn({ session: this.id, vm: this.vm, code }, 'disconnecting abusive client');
      this.end('protocol-abuse', {
        closed: { reason: 'protocol-abuse', message: 'Too many invalid messages.' },
      });
    }
  }

  // ---- End -------------------------------------------------------------------------------

  /** Lets go of every key and button this session holds on the VM. */
  releaseInput(): void {
    const client = this.feed?.host.client;
    if (!client) return;
    for (const code of this.heldKeys) client.key(this.vm, code, false);
    this.heldKeys.clear();
    if (this.buttons) client.pointer(this.vm, this.pointer.x, this.pointer.y, 0);
    this.buttons = 0;
  }

  /** Ends the session (idempotent): notifies the viewer if asked, closes the socket at once. */
  end(reason: string, notice: { moved?: MovedMessage; closed?: ClosedMessage } = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.flushTimer.cancel();
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.watermarkTimer) clearTimeout(this.watermarkTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.lengthTimer) clearTimeout(this.lengthTimer);
    this.releaseInput();
    this.transfer.end();
    if (this.socket.connected) {
      if (notice.moved) this.socket.emit('session:moved', notice.moved);
      if (notice.closed) this.socket.emit('session:closed', notice.closed);
      this.socket.disconnect(true);
    }
    this.hooks.onEnded(this, reason);
  }
}
