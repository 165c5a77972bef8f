// Screen size requests of one VM's controlling viewer, on their way to the guest. Setting a
// size runs xrandr in the guest (a second or more under emulation), so one request is in
// flight at a time and, while it runs, only the latest size asked for waits behind it: a
// window dragged through many sizes costs the guest two mode changes, not dozens.
import type { GuestScreenSize } from '@raydesk/common';

export interface ScreenSizerOptions {
  /** Asks the VM's host to set the size (`domain:screen`); resolves with what the guest reports. */
  apply(size: GuestScreenSize): Promise<GuestScreenSize>;
  /** The size the guest's screen has now (its framebuffer), if known. */
  shown(): GuestScreenSize | null;
  /** The guest cannot change its screen (a fixed appliance): stop asking. */
  isFixed(error: unknown): boolean;
  onApplied?(size: GuestScreenSize, ms: number): void;
  onFailed?(size: GuestScreenSize, error: unknown): void;
}

export class ScreenSizer {
  /** The appliance's screen size is fixed; requests are dropped. */
  fixed = false;
  private running: Promise<void> | null = null;
  private next: GuestScreenSize | null = null;

  constructor(private readonly options: ScreenSizerOptions) {}

  /** Queues `size`, replacing any size still waiting; resolves when the queue is empty. */
  request(size: GuestScreenSize): Promise<void> {
    if (this.fixed) return Promise.resolve();
    this.next = { width: size.width, height: size.height };
    this.running ??= this.drain().finally(() => (this.running = null));
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.next && !this.fixed) {
      const size = this.next;
      this.next = null;
      const shown = this.options.shown();
      if (shown?.width === size.width && shown.height === size.height) continue;
      const started = Date.now();
      try {
        const applied = await this.options.apply(size);
        this.options.onApplied?.(applied, Date.now() - started);
      } catch (error) {
        if (this.options.isFixed(error)) this.fixed = true;
        this.options.onFailed?.(size, error);
      }
    }
  }
}
