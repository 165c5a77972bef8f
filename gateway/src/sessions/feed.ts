// One VM's display as the gateway sees it: a shared framebuffer fed by a single hypervisor watch,
// whatever the number of viewers. Viewers subscribe; the last one leaving unwatches after a short
// linger (so a reconnect after a blip resumes without a new hypervisor keyframe).
import type { DisplayFrame, DisplayResize, DomainInfo } from '@raydesk/hypervisor/api';
import type { Logger } from 'pino';
import { Framebuffer } from '../encoder/framebuffer.ts';
import { RegionCache } from '../encoder/region-cache.ts';
import type { HostDirectory, HypervisorHost } from '../hosts/directory.ts';

export interface FeedSubscriber {
  /** New pixels may be available. */
  onFeedUpdate(): void;
  /** The screen size or mode changed (the framebuffer was reallocated). */
  onFeedResize(): void;
  onFeedState(state: string): void;
}

export class VmFeed {
  readonly fb = new Framebuffer();
  /** Encodings of `fb` shared by every viewer's encoder: in-sync viewers encode once. */
  readonly regions = new RegionCache();
  readonly subscribers = new Set<FeedSubscriber>();
  /** True once the first full frame (keyframe) arrived. */
  ready = false;
  state: string | null = null;
  framesIn = 0;
  bytesIn = 0;
  private readyWaiters: Array<() => void> = [];
  private lingerTimer: NodeJS.Timeout | null = null;
  private watching: Promise<void> | null = null;

  constructor(
    readonly vmId: string,
    readonly host: HypervisorHost,
    private readonly log: Logger,
  ) {}

  /** Starts (or re-starts after a hypervisor reconnect) the hypervisor watch. */
  watch(): Promise<void> {
    this.watching ??= this.host.client.watch(this.vmId).then(
      (size) => {
        this.onResize(size);
      },
      (error: unknown) => {
        this.watching = null;
        throw error;
      },
    );
    return this.watching;
  }

  /** Called when the hypervisor connection came back: watch again, expect a keyframe. */
  rewatch(): void {
    if (!this.watching) return;
    this.watching = null;
    this.watch().catch((error: unknown) =>
      this.log.warn({ vm: this.vmId, err: String(error) }, 'rewatch failed'),
    );
  }

  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.readyWaiters.push(done);
    });
  }

  onFrame(frame: DisplayFrame): void {
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
    this.fb.applyRects(frame.rects, pixels);
    if (!this.ready) {
      this.ready = true;
      for (const w of this.readyWaiters.splice(0)) w();
    }
    for (const s of this.subscribers) s.onFeedUpdate();
  }

  onResize(size: DisplayResize): void {
    const changed =
      size.width !== this.fb.width || size.height !== this.fb.height || size.mode !== this.fb.mode;
    if (!changed || size.width <= 0 || size.height <= 0) return;
    this.fb.resize(size.width, size.height, size.mode);
    for (const s of this.subscribers) s.onFeedResize();
  }

  onState(info: DomainInfo): void {
    this.state = info.state;
    for (const s of this.subscribers) s.onFeedState(info.state);
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
    this.cancelLinger();
    if (!this.watching) return;
    this.watching = null;
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
  ) {}

  private wire(host: HypervisorHost): void {
    if (this.wired.has(host)) return;
    this.wired.add(host);
    const socket = host.client.socket;
    socket.on('display:frame', (frame) => {
      const feed = this.feeds.get(frame?.domainId);
      if (feed && feed.host === host) feed.onFrame(frame);
    });
    socket.on('display:resize', (size) => {
      const feed = this.feeds.get(size?.domainId);
      if (feed && feed.host === host) feed.onResize(size);
    });
    socket.on('domain:state', (info) => {
      const feed = this.feeds.get(info?.id);
      if (feed && feed.host === host) feed.onState(info);
    });
    socket.io.on('reconnect', () => {
      this.log.info({ host: host.id }, 'hypervisor reconnected; re-watching displays');
      for (const feed of this.feeds.values()) if (feed.host === host) feed.rewatch();
    });
  }

  /** Subscribes to a VM's feed, creating and watching it if needed. */
  async acquire(vmId: string, subscriber: FeedSubscriber): Promise<VmFeed> {
    let feed = this.feeds.get(vmId);
    if (!feed) {
      const host = await this.directory.hostFor(vmId);
      this.wire(host);
      feed = this.feeds.get(vmId); // another attach may have created it meanwhile
      if (!feed) {
        feed = new VmFeed(vmId, host, this.log);
        this.feeds.set(vmId, feed);
      }
    }
    feed.cancelLinger();
    feed.subscribers.add(subscriber);
    try {
      await feed.watch();
    } catch (error) {
      this.release(vmId, subscriber, 0);
      throw error;
    }
    return feed;
  }

  release(vmId: string, subscriber: FeedSubscriber, lingerMs = this.lingerMs): void {
    const feed = this.feeds.get(vmId);
    if (!feed) return;
    feed.subscribers.delete(subscriber);
    if (feed.subscribers.size > 0) return;
    const drop = () => {
      if (feed.subscribers.size > 0 || this.feeds.get(vmId) !== feed) return;
      this.feeds.delete(vmId);
      void feed.stop();
    };
    if (lingerMs <= 0) drop();
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
