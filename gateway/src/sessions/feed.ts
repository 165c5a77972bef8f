// One VM's display as the gateway sees it: a shared framebuffer fed by a single hypervisor watch,
// whatever the number of viewers. Viewers subscribe; the last one leaving unwatches after a short
// linger (so a reconnect after a blip resumes without a new hypervisor keyframe). A feed may also
// start before any viewer (`prepare`, when the portal claims or resumes the VM), so the first
// viewer finds the picture there. The feed keeps the screen encoded (keyframe.ts): a viewer's
// first frame is sent from it, and it is brought up to date once the screen settles.
//
// A feed also rides out its hypervisor going away: while the host is unreachable, restarting,
// or booting the VM again, it tells its viewers why in plain words (a notice), keeps them
// attached, and watches again once the VM runs; viewers go live when a fresh keyframe is in.
import { EventEmitter } from 'node:events';
import {
  HypervisorError,
  audioChunkSchema,
  domainMovedSchema,
  type AudioChunk,
  type DisplayFrame,
  type DisplayResize,
  type DomainInfo,
} from '@raydesk/hypervisor/api';
import type { Logger } from 'pino';
import type { CloseReason, DomainState, NoticeCode } from '../protocol/browser.ts';
import type { OutboxFile } from '../protocol/transfer.ts';
import { Framebuffer } from '../encoder/framebuffer.ts';
import { KeyframeCache } from '../encoder/keyframe.ts';
import { RegionCache } from '../encoder/region-cache.ts';
import { ScreenSizer } from './screen-size.ts';
import type { HostDirectory, HypervisorHost } from '../hosts/directory.ts';

export interface FeedSubscriber {
  /** New pixels may be available. */
  onFeedUpdate(): void;
  /** The screen size or mode changed (the framebuffer was reallocated). */
  onFeedResize(): void;
  onFeedState(state: DomainState): void;
  /** Why the VM cannot be used right now, or `desktop-ready` once it can again. */
  onFeedNotice(code: NoticeCode): void;
  /** The VM is gone for good (destroyed, unknown): end the session. */
  onFeedGone(reason: CloseReason, message: string): void;
  /** The guest's clipboard now holds this text. */
  onFeedClipboard(text: string): void;
  /** The files the guest offers in ~/Send to browser changed. */
  onFeedOutbox(files: OutboxFile[]): void;
  /** The guest's sound, for subscribers that asked for it (`setAudio`). */
  onFeedAudio(chunk: AudioChunk): void;
}

/** A feed's switch to the host its VM moved to, in wall-clock ms (Date.now()). */
export interface FeedMove {
  /** The source host said the VM moved (`domain:moved`). */
  movedAt: number;
  /** The target host accepted the watch. */
  watchedAt: number | null;
  /** The first frame from the target arrived. */
  firstFrameAt: number | null;
  /**
   * The first frame from the target that changed the picture viewers have (the first is often
   * the same screen: nothing to paint until the guest draws).
   */
  firstChangeAt: number | null;
}

/** Why a feed has no usable picture right now. */
export type FeedOutage = Exclude<NoticeCode, 'desktop-ready'>;

/** States from which the hypervisor accepts a watch (hypervisor/src/host/lifecycle.ts). */
const WATCHABLE = new Set(['starting', 'running', 'paused', 'saving']);
// A failed look-up or watch while the host is connected is tried again after this long.
const RETRY_MS = 2_000;
// On a fresh gateway the first connection to the host is still being made: give it this long
// before telling viewers the host is unreachable.
const FIRST_CONNECT_GRACE_MS = 3_000;
const GONE_MESSAGE = 'This desktop no longer exists.';
// The keyframe is re-encoded once the screen has not changed for this long, so a busy screen
// (a scrolling terminal) is not encoded twice over; a viewer arriving meanwhile encodes only the
// blocks that changed.
const KEYFRAME_SETTLE_MS = 250;
/** The keyframe is encoded this many ms at a time, other work served in between. */
const KEYFRAME_SLICE_MS = 8;
const STOPPED_MESSAGE = 'The VM was shut down.';

interface FeedEvents {
  change: [];
}

export class VmFeed extends EventEmitter<FeedEvents> {
  readonly fb = new Framebuffer();
  /** Encodings of `fb` shared by every viewer's encoder: in-sync viewers encode once. */
  readonly regions = new RegionCache();
  /** The whole screen encoded, shared by this VM's viewers for their first frame. */
  readonly keyframe = new KeyframeCache();
  readonly subscribers = new Set<FeedSubscriber>();
  /** Subscribers that want sound; the host sends it only while there is one. */
  readonly audioSubscribers = new Set<FeedSubscriber>();
  audioChunksIn = 0;
  audioBytesIn = 0;
  /** True once the first full frame (keyframe) arrived. */
  ready = false;
  state: DomainState | null = null;
  framesIn = 0;
  bytesIn = 0;
  /** Set while the VM cannot be used; viewers are told and wait. */
  outage: FeedOutage | null = null;
  /** Set once the VM is gone for good. */
  gone: { reason: CloseReason; message: string } | null = null;
  /** The last switch to another host (wall-clock ms), for the relocation figures and the log. */
  lastMove: FeedMove | null = null;
  private info: DomainInfo | null = null;
  /** Our watch is registered with the hypervisor on its current connection. */
  private watchActive = false;
  /** Our audio listen is registered there (it goes with the watch's connection). */
  private listenActive = false;
  private listenSync: Promise<void> = Promise.resolve();
  private watching: Promise<void> | null = null;
  /** A keyframe arrived since the current watch began. */
  private freshKeyframe = false;
  /**
   * Since the VM was last usable, the host connection was lost or the VM was seen waiting for
   * the host's recovery: a VM that starts now is starting again after a host restart.
   */
  private hostWasLost = false;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private keyframeTimer: NodeJS.Timeout | null = null;
  private keyframeSlice: NodeJS.Immediate | null = null;
  private stopped = false;
  /** The controlling viewer's requests for a screen size, to the guest one at a time. */
  readonly screen = new ScreenSizer({
    apply: (size) => this.host.client.screen(this.vmId, size),
    shown: () =>
      this.ready && this.fb.mode === 'graphical'
        ? { width: this.fb.width, height: this.fb.height }
        : null,
    isFixed: (error) => error instanceof HypervisorError && error.code === 'bad_request',
    onApplied: (size, ms) => this.log.info({ vm: this.vmId, ...size, ms }, 'guest screen resized'),
    onFailed: (size, error) =>
      this.log.warn({ vm: this.vmId, ...size, err: error }, 'guest screen size not set'),
  });

  constructor(
    readonly vmId: string,
    private hostValue: HypervisorHost,
    private readonly log: Logger,
  ) {
    super();
  }

  /** The host that runs the VM now; input goes there. */
  get host(): HypervisorHost {
    return this.hostValue;
  }

  /**
   * The VM was relocated to `host`: watch it there. Viewers keep the last picture (a short
   * freeze) until the new host's keyframe, and their sockets stay as they are.
   */
  moveTo(host: HypervisorHost): void {
    if (host === this.hostValue || this.stopped || this.gone) return;
    const previous = this.hostValue;
    this.hostValue = host;
    this.watchActive = false;
    this.listenActive = false;
    this.freshKeyframe = false;
    this.lastMove = {
      movedAt: Date.now(),
      watchedAt: null,
      firstFrameAt: null,
      firstChangeAt: null,
    };
    this.log.info({ vm: this.vmId, from: previous.id, to: host.id }, 'feed follows its VM');
    // The source forgot the VM already; this only drops our watch entry there.
    previous.client.unwatch(this.vmId).catch(() => undefined);
    // The source said where it runs now: watch it there at once, without looking it up first
    // (one round trip less in the viewer's freeze); a failed watch falls back to the look-up.
    void this.ensureWatch().then(() => {
      if (this.watchActive) this.updateOutage();
      else void this.sync();
    });
  }

  /** Viewers see the picture: a keyframe is in and nothing keeps the VM from being used. */
  get live(): boolean {
    return this.ready && this.outage === null && this.gone === null;
  }

  // ---- Keeping the watch --------------------------------------------------------------------

  /**
   * Looks the VM up and watches it if it can be watched (a suspended one is resumed by the
   * watch). Called when the feed starts and whenever the host connection comes back.
   */
  sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        await this.syncOnce();
      } while (this.syncAgain && !this.stopped);
    })().finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    if (this.stopped || this.gone) return;
    const client = this.host.client;
    if (!client.socket.connected) {
      const connected = await client.connected(FIRST_CONNECT_GRACE_MS).then(
        () => true,
        () => false,
      );
      // Still down: the 'connect' handler syncs again when the host is back.
      if (!connected) {
        this.hostWasLost = true;
        return this.setOutage('host-unreachable');
      }
    }
    let info: DomainInfo;
    try {
      info = await client.get(this.vmId);
    } catch (error) {
      return this.onHostError(error, 'look-up');
    }
    this.applyInfo(info);
    if (info.state === 'stopped' || this.gone) return;
    if (info.state === 'saved') {
      // Watching a suspended VM resumes it (the hypervisor's ensureAwake).
      this.setOutage(this.hostWasLost ? 'host-restarted' : 'desktop-starting');
      await this.ensureWatch();
    } else if (WATCHABLE.has(info.state)) {
      await this.ensureWatch();
    }
    this.updateOutage();
  }

  private ensureWatch(): Promise<void> {
    if (this.watchActive || this.stopped || this.gone) return Promise.resolve();
    this.watching ??= (async () => {
      this.freshKeyframe = false;
      try {
        const size = await this.host.client.watch(this.vmId);
        if (this.stopped) return;
        this.watchActive = true;
        if (this.lastMove && this.lastMove.watchedAt === null) this.lastMove.watchedAt = Date.now();
        this.onResize(size);
        this.syncListen();
      } catch (error) {
        this.onHostError(error, 'watch');
      }
    })().finally(() => (this.watching = null));
    return this.watching;
  }

  private onHostError(error: unknown, what: string): void {
    if (error instanceof HypervisorError && error.code === 'not_found') {
      this.end('vm-unavailable', GONE_MESSAGE);
      return;
    }
    // illegal_transition: the VM changed state under us (its state event follows); anything
    // else (a timeout, the host going away): look again shortly.
    this.log.debug({ vm: this.vmId, what, err: String(error) }, 'feed: host request failed');
    if (!this.host.client.socket.connected) this.setOutage('host-unreachable');
    this.scheduleSync(RETRY_MS);
  }

  private scheduleSync(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.sync();
    }, ms);
    this.retryTimer.unref();
  }

  /** The host connection dropped: the watch is gone with it (the host may be restarting). */
  onHostLost(): void {
    this.watchActive = false;
    this.listenActive = false;
    this.hostWasLost = true;
    this.setOutage('host-unreachable');
  }

  // ---- Sound ------------------------------------------------------------------------------

  /** Turns sound on or off for one subscriber; the host listen follows whether anyone wants it. */
  setAudio(subscriber: FeedSubscriber, on: boolean): void {
    if (on && this.subscribers.has(subscriber)) this.audioSubscribers.add(subscriber);
    else this.audioSubscribers.delete(subscriber);
    this.syncListen();
  }

  /** Brings the host's listen in line with the subscribers, one request at a time. */
  private syncListen(): void {
    this.listenSync = this.listenSync.then(async () => {
      const want = this.audioSubscribers.size > 0 && this.watchActive && !this.stopped;
      if (want === this.listenActive) return;
      const client = this.host.client;
      try {
        if (want) await client.listen(this.vmId);
        else await client.unlisten(this.vmId);
        this.listenActive = want;
      } catch (error) {
        // The watch's own error handling retries the watch, which listens again once it holds.
        this.log.debug({ vm: this.vmId, want, err: String(error) }, 'feed: audio listen failed');
      }
    });
  }

  onAudio(chunk: AudioChunk): void {
    this.audioChunksIn++;
    this.audioBytesIn += chunk.data.byteLength;
    for (const s of this.audioSubscribers) s.onFeedAudio(chunk);
  }

  // ---- Host events ------------------------------------------------------------------------

  onFrame(frame: DisplayFrame): void {
    if (this.lastMove && this.lastMove.firstFrameAt === null) {
      this.lastMove.firstFrameAt = Date.now();
      const { movedAt, watchedAt, firstFrameAt } = this.lastMove;
      this.log.info(
        {
          vm: this.vmId,
          watchMs: (watchedAt ?? firstFrameAt) - movedAt,
          frameMs: firstFrameAt - movedAt,
        },
        'feed: first frame from the new host',
      );
    }
    this.framesIn++;
    this.bytesIn += frame.pixels.byteLength;
    if (
      frame.width !== this.fb.width ||
      frame.height !== this.fb.height ||
      frame.mode !== this.fb.mode
    ) {
      this.onResize({
        domainId: frame.domainId,
        width: frame.width,
        height: frame.height,
        mode: frame.mode,
      });
    }
    // Before the first keyframe, partial updates would leave holes: wait for the keyframe.
    if (!this.ready && !frame.keyframe) return;
    const pixels = frame.pixels instanceof Uint8Array ? frame.pixels : new Uint8Array(frame.pixels);
    // A keyframe of a picture viewers have (the first from a relocated VM's new host, a
    // re-watch) costs them only the tiles that really differ.
    let changedTiles = frame.rects.length;
    if (frame.keyframe && this.ready) changedTiles = this.fb.applyRectsChanged(frame.rects, pixels);
    else this.fb.applyRects(frame.rects, pixels);
    if (this.lastMove && this.lastMove.firstChangeAt === null && changedTiles > 0)
      this.lastMove.firstChangeAt = Date.now();
    const changed = !this.ready || (frame.keyframe && !this.freshKeyframe);
    this.ready = true;
    if (frame.keyframe) this.freshKeyframe = true;
    for (const s of this.subscribers) s.onFeedUpdate();
    this.scheduleKeyframe(changed ? 0 : KEYFRAME_SETTLE_MS);
    if (changed) {
      this.updateOutage();
      this.emit('change');
    }
  }

  /** Re-encodes the changed blocks of the keyframe after `delayMs` without a new frame. */
  private scheduleKeyframe(delayMs: number): void {
    if (this.stopped) return;
    this.cancelKeyframe();
    this.keyframeTimer = setTimeout(() => {
      this.keyframeTimer = null;
      this.refreshKeyframe();
    }, delayMs);
    this.keyframeTimer.unref();
  }

  /**
   * One slice of the keyframe's encode, then the next after whatever else is waiting: viewers'
   * handshakes and input, the host's frames (a viewer attaching meanwhile encodes the rest).
   */
  private refreshKeyframe(): void {
    this.keyframeSlice = null;
    if (this.stopped || !this.ready) return;
    if (!this.keyframe.refreshFor(this.fb, KEYFRAME_SLICE_MS))
      this.keyframeSlice = setImmediate(() => this.refreshKeyframe());
  }

  private cancelKeyframe(): void {
    if (this.keyframeTimer) clearTimeout(this.keyframeTimer);
    if (this.keyframeSlice) clearImmediate(this.keyframeSlice);
    this.keyframeTimer = null;
    this.keyframeSlice = null;
  }

  onResize(size: DisplayResize): void {
    const changed =
      size.width !== this.fb.width || size.height !== this.fb.height || size.mode !== this.fb.mode;
    if (!changed || size.width <= 0 || size.height <= 0) return;
    this.fb.resize(size.width, size.height, size.mode);
    for (const s of this.subscribers) s.onFeedResize();
  }

  onState(info: DomainInfo): void {
    this.applyInfo(info);
    if (this.gone || this.stopped) return;
    // The VM runs again (booted after a crash, or resumed): watch it if our watch was lost.
    // A look-up in flight may have seen the state before this one: it looks again after.
    if (!this.watchActive && WATCHABLE.has(info.state)) {
      if (this.syncing) this.syncAgain = true;
      else void this.ensureWatch().then(() => this.updateOutage());
    }
    this.updateOutage();
  }

  private applyInfo(info: DomainInfo): void {
    this.info = info;
    if (info.restartPending) this.hostWasLost = true;
    if (info.state !== this.state) {
      this.state = info.state;
      for (const s of this.subscribers) s.onFeedState(info.state);
    }
    if (info.state === 'stopped') this.end('vm-stopped', STOPPED_MESSAGE);
  }

  // ---- Outages ----------------------------------------------------------------------------

  /** Works out from what is known whether, and why, the VM cannot be used right now. */
  private updateOutage(): void {
    if (this.gone || this.stopped) return;
    if (!this.host.client.socket.connected) return this.setOutage('host-unreachable');
    const info = this.info;
    if (!info) return;
    const starting = this.hostWasLost ? 'host-restarted' : 'desktop-starting';
    switch (info.state) {
      case 'crashed':
        return this.setOutage(info.restartPending ? starting : 'desktop-stopped');
      case 'starting':
        return this.setOutage(starting);
      case 'running':
        if (!info.guestReady) return this.setOutage(starting);
        if (this.watchActive && this.freshKeyframe) this.setOutage(null);
        return;
      case 'paused':
        if (this.watchActive && this.freshKeyframe) this.setOutage(null);
        return;
      default:
        // saving / saved: a suspend that someone asked for; nothing to tell beyond vm:state.
        return;
    }
  }

  private setOutage(outage: FeedOutage | null): void {
    if (outage === this.outage || this.gone) return;
    const previous = this.outage;
    this.outage = outage;
    if (outage === null) this.hostWasLost = false;
    this.log.info({ vm: this.vmId, outage: outage ?? 'none', previous }, 'feed outage');
    // Viewers that saw an outage learn it is over; the others simply go live.
    if (outage !== null || previous !== null) {
      for (const s of this.subscribers) s.onFeedNotice(outage ?? 'desktop-ready');
    }
    this.emit('change');
  }

  /** Ends every viewer of a VM that is gone for good. */
  private end(reason: CloseReason, message: string): void {
    if (this.gone) return;
    this.gone = { reason, message };
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const s of [...this.subscribers]) s.onFeedGone(reason, message);
    this.emit('change');
  }

  /**
   * Resolves true once viewers can be shown the VM, false when it is gone or when it spent
   * `timeoutMs` with no outage and still no keyframe (the display does not answer). While an
   * outage lasts (host away, VM booting) it waits as long as it takes.
   */
  whenLive(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const finish = (live: boolean) => {
        if (timer) clearTimeout(timer);
        this.off('change', check);
        resolve(live);
      };
      const check = () => {
        if (this.gone || this.stopped) return finish(false);
        if (this.live) return finish(true);
        if (this.outage) {
          if (timer) clearTimeout(timer);
          timer = null;
        } else {
          timer ??= setTimeout(() => finish(false), timeoutMs);
        }
      };
      this.on('change', check);
      check();
    });
  }

  cancelLinger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  linger(ms: number, onExpire: () => void): void {
    this.cancelLinger();
    this.lingerTimer = setTimeout(onExpire, ms);
    this.lingerTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelLinger();
    this.cancelKeyframe();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.emit('change');
    this.audioSubscribers.clear();
    this.listenActive = false;
    if (!this.watchActive) return;
    this.watchActive = false;
    try {
      await this.host.client.unwatch(this.vmId);
    } catch (error) {
      this.log.debug({ vm: this.vmId, err: String(error) }, 'unwatch failed');
    }
  }
}

/** All feeds of this gateway, routing each host's display events to the right feed. */
export class FeedRegistry {
  private readonly feeds = new Map<string, VmFeed>();
  private readonly wired = new Set<HypervisorHost>();

  constructor(
    private readonly directory: HostDirectory,
    private readonly log: Logger,
    private readonly lingerMs = 10_000,
    /** How long a feed started for a coming viewer (`prepare`) waits for one. */
    private readonly prepareLingerMs = 60_000,
  ) {}

  private wire(host: HypervisorHost): void {
    if (this.wired.has(host)) return;
    this.wired.add(host);
    const socket = host.client.socket;
    const feedsOf = () => [...this.feeds.values()].filter((feed) => feed.host === host);
    socket.on('display:frame', (frame) => {
      const feed = this.feeds.get(frame?.domainId);
      if (feed && feed.host === host) feed.onFrame(frame);
    });
    socket.on('audio:chunk', (event) => {
      const chunk = audioChunkSchema.safeParse(event);
      if (!chunk.success) return;
      const feed = this.feeds.get(chunk.data.domainId);
      if (feed && feed.host === host) feed.onAudio(chunk.data);
    });
    socket.on('display:resize', (size) => {
      const feed = this.feeds.get(size?.domainId);
      if (feed && feed.host === host) feed.onResize(size);
    });
    socket.on('clipboard:changed', (event) => {
      const feed = this.feeds.get(event?.domainId);
      if (!feed || feed.host !== host || typeof event.text !== 'string') return;
      for (const s of feed.subscribers) s.onFeedClipboard(event.text);
    });
    socket.on('files:outbox', (event) => {
      const feed = this.feeds.get(event?.domainId);
      if (!feed || feed.host !== host || !Array.isArray(event.files)) return;
      for (const s of feed.subscribers) s.onFeedOutbox(event.files);
    });
    socket.on('domain:state', (info) => {
      const feed = this.feeds.get(info?.id);
      if (feed && feed.host === host) feed.onState(info);
    });
    // A watched VM is about to move: connect to its target now, so the switch does not wait.
    socket.on('domain:moving', (event) => {
      const moving = domainMovedSchema.safeParse(event);
      if (!moving.success || !this.feeds.has(moving.data.id)) return;
      this.wire(this.directory.connect({ id: moving.data.hostId, url: moving.data.url }));
    });
    socket.on('domain:moved', (event) => {
      const moved = domainMovedSchema.safeParse(event);
      if (!moved.success) return;
      const feed = this.feeds.get(moved.data.id);
      const target = this.directory.place(moved.data.id, {
        id: moved.data.hostId,
        url: moved.data.url,
      });
      this.wire(target);
      if (feed && feed.host === host) feed.moveTo(target);
    });
    socket.on('disconnect', (reason) => {
      const feeds = feedsOf();
      this.log.warn({ host: host.id, reason, feeds: feeds.length }, 'hypervisor connection lost');
      for (const feed of feeds) feed.onHostLost();
    });
    // Every (re)connection: the host may have restarted and forgotten our watches.
    socket.on('connect', () => {
      const feeds = feedsOf();
      if (feeds.length === 0) return;
      this.log.info({ host: host.id, feeds: feeds.length }, 'hypervisor connected; re-watching');
      for (const feed of feeds) void feed.sync();
    });
  }

  /**
   * Subscribes to a VM's feed, creating it (and starting its watch) if needed. It does not wait
   * for the VM: `whenLive` does, and the feed's notices say why it may take a while.
   */
  async acquire(vmId: string, subscriber: FeedSubscriber): Promise<VmFeed> {
    const feed = await this.feedFor(vmId);
    feed.cancelLinger();
    feed.subscribers.add(subscriber);
    return feed;
  }

  /**
   * Starts a VM's feed before any viewer: the portal claimed or resumed the VM and a viewer is
   * on its way. The watch begins now, so the picture (and its encoding) is there when the viewer
   * attaches. A feed nobody attaches to stops after `lingerMs`, like one whose viewers left.
   */
  async prepare(vmId: string, lingerMs = this.prepareLingerMs): Promise<VmFeed> {
    const feed = await this.feedFor(vmId);
    if (feed.subscribers.size === 0) this.lingerUnwatched(vmId, feed, lingerMs);
    return feed;
  }

  /** The VM's live feed, or a new one whose watch starts now. */
  private async feedFor(vmId: string): Promise<VmFeed> {
    let feed = this.feeds.get(vmId);
    if (feed && !feed.gone) return feed;
    const host = await this.directory.hostFor(vmId);
    this.wire(host);
    feed = this.feeds.get(vmId); // another attach may have created it meanwhile
    if (feed && !feed.gone) return feed;
    feed = new VmFeed(vmId, host, this.log);
    this.feeds.set(vmId, feed);
    void feed.sync();
    return feed;
  }

  release(vmId: string, subscriber: FeedSubscriber, lingerMs = this.lingerMs): void {
    const feed = this.feeds.get(vmId);
    if (!feed || !feed.subscribers.delete(subscriber)) return;
    if (feed.audioSubscribers.has(subscriber)) feed.setAudio(subscriber, false);
    if (feed.subscribers.size > 0) return;
    this.lingerUnwatched(vmId, feed, lingerMs);
  }

  /** A feed without viewers stops after `lingerMs` unless one attaches meanwhile. */
  private lingerUnwatched(vmId: string, feed: VmFeed, lingerMs: number): void {
    const drop = () => {
      if (feed.subscribers.size > 0 || this.feeds.get(vmId) !== feed) return;
      this.feeds.delete(vmId);
      void feed.stop();
    };
    if (lingerMs <= 0 || feed.gone) drop();
    else feed.linger(lingerMs, drop);
  }

  get(vmId: string): VmFeed | undefined {
    return this.feeds.get(vmId);
  }

  get size(): number {
    return this.feeds.size;
  }

  async closeAll(): Promise<void> {
    const feeds = [...this.feeds.values()];
    this.feeds.clear();
    await Promise.all(feeds.map((f) => f.stop()));
  }
}
