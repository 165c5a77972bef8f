// The live session table: attach, takeover (one control session per VM), shadowing, watcher
// notices, session events and the internal disconnect.
import type { Logger } from 'pino';
import type {
  AttachClaims,
  GatewayEvent,
  GatewayEventType,
  SessionInfo,
} from '../protocol/internal.ts';
import type { EventPublisher } from '../events.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { FeedRegistry } from './feed.ts';
import { ViewerSession, type ViewerSocket } from './session.ts';

import { allowAllTransfers, type TransferPolicy } from './transfer.ts';
import type { RecordingStore } from '../recording/store.ts';

export interface SessionManagerOptions {
  /** How long to wait for a VM's first keyframe (when nothing else holds it up) before giving up, ms. */
  readyTimeoutMs?: number;
  /** Updates this small go to a viewer at once when it has no frame in flight (session.ts). */
  smallUpdateTiles?: number;
  /** Who may use which clipboard and file direction (default: everyone, every direction). */
  transferPolicy?: TransferPolicy;
  /** Records the sessions whose policy says `recording`; absent: such sessions are refused. */
  recordings?: RecordingStore;
  /** Length of a policy minute, ms (session.ts; tests shorten it). */
  policyMinuteMs?: number;
}

export class SessionManager {
  private readonly sessions = new Map<string, ViewerSession>();
  private readonly readyTimeoutMs: number;
  private readonly smallUpdateTiles: number | undefined;
  private readonly transferPolicy: TransferPolicy;
  private readonly recordings: RecordingStore | null;
  private readonly policyMinuteMs: number | undefined;
  /** In a fleet: tells the other gateways that a control session began here (fleet/peers.ts). */
  onControlAttach: ((vm: string, clientId: string | null, by: string) => void) | null = null;

  constructor(
    private readonly feeds: FeedRegistry,
    private readonly events: EventPublisher,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    options: SessionManagerOptions = {},
  ) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    this.smallUpdateTiles = options.smallUpdateTiles;
    this.transferPolicy = options.transferPolicy ?? allowAllTransfers;
    this.recordings = options.recordings ?? null;
    this.policyMinuteMs = options.policyMinuteMs;
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  get(id: string): ViewerSession | undefined {
    return this.sessions.get(id);
  }

  forVm(vm: string): ViewerSession[] {
    return [...this.sessions.values()].filter((s) => s.vm === vm);
  }

  /** Attaches a verified socket to its VM. Never throws: failures end the session. */
  async attach(socket: ViewerSocket, claims: AttachClaims, clientId: string | null): Promise<void> {
    const session = new ViewerSession(
      socket,
      claims,
      clientId,
      this.metrics,
      this.log,
      { onEnded: (s, reason) => this.onEnded(s, reason) },
      this.smallUpdateTiles,
      this.transferPolicy,
      this.policyMinuteMs,
    );
    let resumed = false;
    let replaced: ViewerSession | null = null;
    if (claims.mode === 'control') {
      const ended = this.endControlSessions(claims.vm, clientId, claims.name);
      resumed = ended.resumed;
      replaced = ended.replaced;
      this.onControlAttach?.(claims.vm, clientId, claims.name);
    }
    this.sessions.set(session.id, session);
    this.metrics.sessions.inc({ mode: session.mode });

    let feed;
    try {
      feed = await this.feeds.acquire(claims.vm, session);
    } catch (error) {
      this.log.warn({ vm: claims.vm, err: String(error) }, 'attach: VM unavailable');
      session.end('vm-unavailable', {
        closed: { reason: 'vm-unavailable', message: 'The VM is not available.' },
      });
      return;
    } finally {
      this.metrics.feeds.set(this.feeds.size);
    }
    if (session.closed) return; // the socket went away meanwhile (onEnded released the feed)
    // The VM may be away (host restarting, VM booting): say why at once; the wait has no limit.
    if (feed.outage) session.onFeedNotice(feed.outage);
    if (!(await feed.whenLive(this.readyTimeoutMs))) {
      // A VM that is gone ended the session already (onFeedGone).
      session.end('vm-unavailable', {
        closed: { reason: 'vm-unavailable', message: 'The VM display did not answer.' },
      });
      return;
    }
    if (session.closed) return;
    if (session.policy.recording) {
      if (!this.recordings) {
        this.log.error({ vm: claims.vm }, 'attach: recording required but not configured');
        session.end('recording-unavailable', {
          closed: {
            reason: 'vm-unavailable',
            message: 'This session must be recorded, and recording is not set up.',
          },
        });
        return;
      }
      try {
        // Before begin(): the first full frame is recorded too.
        session.recorder = this.recordings.begin({
          id: session.id,
          vm: claims.vm,
          userId: claims.sub,
          userName: claims.name,
          width: feed.fb.width,
          height: feed.fb.height,
        });
      } catch (error) {
        // A session that must be recorded and cannot be is not let in.
        this.log.error({ vm: claims.vm, err: String(error) }, 'attach: recording failed to start');
        session.end('recording-unavailable', {
          closed: { reason: 'vm-unavailable', message: 'This session could not be recorded.' },
        });
        return;
      }
    }
    session.begin(feed, resumed);
    session.announced = true;
    this.metrics.attaches.inc({ mode: session.mode });
    this.publish('connect', session);
    if (replaced) {
      this.metrics.takeovers.inc();
      this.publish('takeover', session, { replacedSessionId: replaced.id });
    }
    if (session.mode === 'view') this.publish('shadow-start', session);
    this.notifyWatchers(claims.vm);
  }

  /** A control session of `vm` began on another gateway of the fleet: it takes over ours. */
  takeOverFromPeer(vm: string, clientId: string | null, by: string): void {
    this.endControlSessions(vm, clientId, by);
  }

  /**
   * Ends the control sessions of `vm` for a new controller: the same viewer (clientId) resumes,
   * anyone else's session is taken over.
   */
  private endControlSessions(
    vm: string,
    clientId: string | null,
    by: string,
  ): { resumed: boolean; replaced: ViewerSession | null } {
    let resumed = false;
    let replaced: ViewerSession | null = null;
    for (const other of this.forVm(vm)) {
      if (other.mode !== 'control') continue;
      const sameViewer = clientId !== null && other.clientId === clientId;
      resumed ||= sameViewer;
      if (!sameViewer) replaced = other;
      // The old endpoint is told and detached now, not at its ping timeout. Its keys are
      // released; the VM keeps running.
      other.end(sameViewer ? 'resumed' : 'taken-over', {
        moved: sameViewer ? undefined : { reason: 'opened-elsewhere', by },
      });
    }
    return { resumed, replaced };
  }

  /** Internal API: ends a session; returns false if there is none. */
  disconnect(id: string, message = 'Disconnected by an administrator.'): boolean {
    const session = this.sessions.get(id);
    if (!session) return false;
    session.end('admin-disconnect', { closed: { reason: 'admin-disconnect', message } });
    return true;
  }

  closeAll(): void {
    for (const session of this.sessions.values()) {
      session.end('gateway-shutdown', {
        closed: { reason: 'gateway-shutdown', message: 'The gateway is restarting.' },
      });
    }
  }

  private onEnded(session: ViewerSession, reason: string): void {
    if (!this.sessions.delete(session.id)) return;
    if (session.recorder) this.recordings?.finish(session.recorder, reason);
    this.metrics.sessions.dec({ mode: session.mode });
    // Keep the feed a little while so a quick reconnect resumes from our framebuffer.
    this.feeds.release(session.vm, session);
    this.metrics.feeds.set(this.feeds.size);
    if (session.announced) {
      this.publish('disconnect', session, { reason });
      if (session.mode === 'view') this.publish('shadow-end', session, { reason });
    }
    this.notifyWatchers(session.vm);
  }

  /** Tells each viewer of a VM who else is attached (the controller learns it is watched). */
  private notifyWatchers(vm: string): void {
    const all = this.forVm(vm).filter((s) => s.announced && !s.closed);
    for (const s of all) {
      s.socket.emit('session:watchers', {
        viewers: all.filter((o) => o !== s).map((o) => o.viewer()),
      });
    }
  }

  private publish(
    type: GatewayEventType,
    session: ViewerSession,
    extra: Partial<Pick<GatewayEvent, 'reason' | 'replacedSessionId'>> = {},
  ): void {
    const others = this.forVm(session.vm).filter((s) => !s.closed);
    this.events.publish({
      type,
      at: new Date().toISOString(),
      sessionId: session.id,
      vm: session.vm,
      userId: session.claims.sub,
      name: session.claims.name,
      role: session.claims.role,
      mode: session.mode,
      ...extra,
      controlSessions: others.filter((s) => s.mode === 'control').length,
      sessions: others.length,
    });
  }
}
