// A domain as the host sees it: identity, lifecycle state, resources and the worker that runs
// it. The worker can die at any time; the domain object survives it as `crashed`.
import { EventEmitter } from 'node:events';
import type {
  ApplianceName,
  AudioChunk,
  DisplayFrame,
  DisplayMode,
  DisplayResize,
  DomainInfo,
  DomainKind,
  DomainState,
  KeyboardLayout,
} from '../api/protocol.ts';
import type {
  DiskBlocks,
  DiskReport,
  DomainBootConfig,
  RelocationPages,
  StopAndCopy,
  ScreenCapture,
  WorkerPrepared,
  WorkerStats,
  WorkerToParent,
} from '../worker/messages.ts';
import type { Worker } from 'node:worker_threads';
import { DomainWorkerHandle, spawnDomainWorker } from './domain-worker-handle.ts';
import { assertOperation, assertTransition } from './lifecycle.ts';
import type { SerialLog } from './devices/serial-log.ts';
import type { CpuBudget, CpuUsage } from '../worker/cpu-governor.ts';
import { DEFAULT_WEIGHT, type SchedParams } from './scheduler.ts';
import { savedStateBuffers, type SavedState } from '../snapshots/saved-state.ts';
import type { OverlayBase as DiskBase } from '../worker/devices/disk/overlay-store.ts';

export interface DomainSpec {
  id: string;
  name: string;
  appliance: ApplianceName;
  kind: DomainKind;
  owner: string | null;
  memoryMiB: number;
  vgaMemoryMiB: number;
}

/** A domain the host knew before it restarted: saved to disk, or crashed with its disk intact. */
export interface RecoveredDomain {
  state: 'saved' | 'crashed';
  createdAt: Date;
  savedStateFile: string | null;
  error: string | null;
}

export interface DomainEvents {
  state: [DomainInfo];
  frame: [DisplayFrame];
  resize: [DisplayResize];
  audio: [AudioChunk];
  agent: [string];
  booted: [BootTimes];
  cpu: [CpuUsage];
  /** The domain gained its first viewer (true) or lost its last one (false). */
  'in-use': [boolean];
}

const BOOT_TIMEOUT_MS = 120_000;
// setxkbmap compiles the keymap in the emulated guest: 48-90 s measured at load 38 on 2 cores.
const KEYBOARD_LAYOUT_TIMEOUT_MS = 240_000;
// A worker gets this long to make its last disk writes durable before it is terminated anyway.
const CLOSE_DISK_TIMEOUT_MS = 30_000;

export type BootTimes = Omit<Extract<WorkerToParent, { type: 'booted' }>, 'type'>;

export class Domain extends EventEmitter<DomainEvents> {
  /** When the domain was created (kept across relocation). */
  createdAt: Date;
  private stateValue: DomainState;
  private worker: DomainWorkerHandle | null = null;
  /** The X keyboard layout last set through the guest agent; null: not set by this host. */
  private keyboardLayoutValue: KeyboardLayout | null = null;
  /** Agent requests under way during which input waits in the worker (`whileInputHeld`). */
  private inputHolds = 0;
  private startedAt: Date | null = null;
  private error: string | null = null;
  private readonly watchers = new Set<string>();
  /** Connections that want the sound card's output; the worker encodes only while there are. */
  private readonly audioListeners = new Set<string>();
  private seq = 0;
  private audioSeq = 0;
  private screen: { width: number; height: number; mode: DisplayMode } = {
    width: 0,
    height: 0,
    mode: 'text',
  };
  private stats: { cpuPercent: number; mips: number; diskOverlayBytes: number } = {
    cpuPercent: 0,
    mips: 0,
    diskOverlayBytes: 0,
  };
  private lastInstructions: { count: number; at: number } | null = null;
  /** When the domain was last paused (monotonic ms), while it is paused. */
  private pausedAtMs: number | null = null;
  /** Settles when the guest agent has been told the time (and identity, for clones). */
  guestRefreshed: Promise<boolean> = Promise.resolve(false);
  /** Where the domain's state was last saved, for `saved` domains. */
  savedStateFile: string | null = null;
  /** Credit scheduler weight and cap (percent of a core, 0 = none); kept across save/restore. */
  sched: SchedParams = { weight: DEFAULT_WEIGHT, cap: 0 };
  private cpuBudget: CpuBudget | null = null;
  /** Rejects the boot in progress, for a destroy that comes before the worker is up. */
  private abandonBoot: ((error: Error) => void) | null = null;
  /** Since when nobody has watched the running domain; null while watched or not running. */
  private idleSinceValue: number | null = null;
  private guestReadyValue = false;
  /** The host starts this crashed domain by itself (it had viewers when the host went down). */
  private restartPendingValue = false;

  constructor(
    readonly spec: DomainSpec,
    readonly console: SerialLog,
    recovered?: RecoveredDomain,
    /** Where its worker threads come from (the host's spares). */
    private readonly newWorker: () => Worker = spawnDomainWorker,
  ) {
    super();
    this.stateValue = recovered?.state ?? 'starting';
    this.createdAt = recovered?.createdAt ?? new Date();
    this.savedStateFile = recovered?.savedStateFile ?? null;
    this.error = recovered?.error ?? null;
  }

  get id(): string {
    return this.spec.id;
  }
  get state(): DomainState {
    return this.stateValue;
  }
  /** Competes for host CPU: running or booting, with a worker. */
  get runnable(): boolean {
    return (
      this.worker !== null && (this.stateValue === 'running' || this.stateValue === 'starting')
    );
  }
  setCpuBudget(budget: CpuBudget): void {
    this.cpuBudget = budget;
    this.worker?.send({ type: 'cpu-budget', budget });
  }
  get watcherCount(): number {
    return this.watchers.size;
  }
  /** Milliseconds since the running domain lost its last viewer (0 while watched or stopped). */
  idleMs(now = Date.now()): number {
    return this.stateValue === 'running' && this.idleSinceValue !== null
      ? now - this.idleSinceValue
      : 0;
  }
  get screenSize(): { width: number; height: number; mode: DisplayMode } {
    return this.screen;
  }
  get guestReady(): boolean {
    return this.guestReadyValue;
  }
  get restartPending(): boolean {
    return this.restartPendingValue;
  }
  set restartPending(pending: boolean) {
    if (pending === this.restartPendingValue) return;
    this.restartPendingValue = pending;
    this.emitState();
  }

  info(): DomainInfo {
    const running = this.stateValue === 'running' && this.startedAt;
    return {
      id: this.spec.id,
      name: this.spec.name,
      appliance: this.spec.appliance,
      kind: this.spec.kind,
      owner: this.spec.owner,
      state: this.stateValue,
      memoryMiB: this.spec.memoryMiB,
      vgaMemoryMiB: this.spec.vgaMemoryMiB,
      cpuPercent: running ? this.stats.cpuPercent : 0,
      mips: running ? this.stats.mips : 0,
      createdAt: this.createdAt.toISOString(),
      startedAt: this.startedAt?.toISOString() ?? null,
      uptimeMs: running && this.startedAt ? Date.now() - this.startedAt.getTime() : 0,
      watchers: this.watchers.size,
      guestReady: this.guestReadyValue,
      restartPending: this.restartPendingValue,
      error: this.error,
      sched: { ...this.sched },
    };
  }

  /**
   * Starts the worker: a cold boot, or a resume when the config carries a state. With
   * `ownsState`, the worker takes the state over instead of a copy (it is unusable here after).
   */
  boot(config: DomainBootConfig, { ownsState = false } = {}): Promise<BootTimes> {
    if (this.stateValue === 'stopped') {
      return Promise.reject(new Error(`domain ${this.id} was destroyed while starting`));
    }
    this.guestReadyValue = false;
    this.restartPendingValue = false;
    if (this.stateValue !== 'starting') this.transition('starting');
    this.error = null;
    this.lastInstructions = null;
    return new Promise((resolve, reject) => {
      this.abandonBoot = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      // A guest arriving by relocation runs when its sender commits, however long that takes
      // (relocation/incoming.ts drops a sender that went silent before that).
      const timer = config.incoming
        ? undefined
        : setTimeout(() => {
            reject(new Error(`domain ${this.id} did not boot within ${BOOT_TIMEOUT_MS / 1000} s`));
            void this.worker?.terminate();
          }, BOOT_TIMEOUT_MS);
      const start = {
        worker: this.newWorker(),
        transfer: ownsState ? handedOver(config) : [],
      };
      const worker = new DomainWorkerHandle(config, start, {
        message: (message) => {
          switch (message.type) {
            case 'booted': {
              clearTimeout(timer);
              this.abandonBoot = null;
              // Destroyed while it was starting: this worker is already being ended.
              if (this.worker !== worker) {
                reject(new Error(`domain ${this.id} was destroyed while starting`));
                return;
              }
              this.startedAt = new Date();
              this.idleSinceValue = this.watchers.size === 0 ? Date.now() : null;
              // A restored guest is as ready as it was when saved; a cold boot says so itself.
              if (message.restored) this.guestReadyValue = true;
              this.transition('running');
              const times: BootTimes = {
                restored: message.restored,
                bootMs: message.bootMs,
                loadedMs: message.loadedMs,
                restoreMs: message.restoreMs,
              };
              this.emit('booted', times);
              resolve(times);
              return;
            }
            case 'frame':
              this.emit('frame', { domainId: this.id, seq: ++this.seq, ...message.frame });
              return;
            case 'audio':
              this.emit('audio', { domainId: this.id, seq: ++this.audioSeq, ...message.audio });
              return;
            case 'resize':
              this.screen = { width: message.width, height: message.height, mode: message.mode };
              this.emit('resize', { domainId: this.id, ...this.screen });
              return;
            case 'console':
              this.console.write(message.bytes);
              return;
            case 'agent-event':
              if (/^\* ready\b/.test(message.line) && !this.guestReadyValue) {
                this.guestReadyValue = true;
                this.emitState();
              }
              this.emit('agent', message.line);
              return;
            case 'stats':
              this.onStats(message.stats);
              return;
            case 'cpu-usage':
              this.emit('cpu', message.usage);
              return;
            case 'fatal':
              return;
          }
        },
        exit: (error) => {
          clearTimeout(timer);
          if (this.worker !== worker) return;
          this.worker = null;
          if (error !== null) {
            this.error = error;
            if (this.stateValue !== 'stopped') this.transition('crashed');
            reject(new Error(`domain ${this.id} crashed: ${error.split('\n')[0]}`));
          }
        },
      });
      this.worker = worker;
      if (this.watchers.size > 0) worker.send({ type: 'watch', watching: true });
      if (this.audioListeners.size > 0) worker.send({ type: 'audio-listen', listening: true });
      if (this.cpuBudget) worker.send({ type: 'cpu-budget', budget: this.cpuBudget });
      if (this.keyboardLayoutValue) {
        worker.send({ type: 'keyboard-layout', layout: this.keyboardLayoutValue });
      }
      if (this.inputHolds > 0) worker.send({ type: 'hold-input', held: true });
    });
  }

  async pause(): Promise<void> {
    assertOperation(this.id, 'pause', this.stateValue);
    await this.requireWorker().request({ type: 'pause' });
    this.pausedAtMs = performance.now();
    this.transition('paused');
  }

  /** Runs the paused domain again; returns how long it was paused, in ms. */
  async unpause(): Promise<number> {
    assertOperation(this.id, 'unpause', this.stateValue);
    await this.requireWorker().request({ type: 'unpause' });
    const pausedMs = this.pausedAtMs === null ? 0 : performance.now() - this.pausedAtMs;
    this.pausedAtMs = null;
    this.transition('running');
    return pausedMs;
  }

  async reboot(): Promise<void> {
    assertOperation(this.id, 'reboot', this.stateValue);
    if (this.stateValue === 'paused') await this.unpause();
    await this.requireWorker().request({ type: 'reboot' });
    this.startedAt = new Date();
    this.emitState();
  }

  /**
   * Captures the whole machine state and hands it to `persist` while the guest is still paused.
   * With `stop`, the worker is then ended and the domain is `saved` (it holds no RAM), so
   * `saved` is only ever reported once the state is safely stored; otherwise, and if `persist`
   * fails, it goes back to the state it was in.
   */
  async captureState<T>(stop: boolean, persist: (state: ArrayBuffer) => Promise<T>): Promise<T> {
    return this.capture(stop, false, (saved) => {
      if (saved.kind !== 'full') throw new Error('the worker saved a delta, not a whole state');
      return persist(saved.state as ArrayBuffer);
    });
  }

  /** Like captureState, as a delta against the golden snapshot when the VM can save one. */
  captureSavedState<T>(stop: boolean, persist: (state: SavedState) => Promise<T>): Promise<T> {
    return this.capture(stop, true, persist);
  }

  private async capture<T>(
    stop: boolean,
    againstGolden: boolean,
    persist: (state: SavedState) => Promise<T>,
  ): Promise<T> {
    assertOperation(this.id, 'save', this.stateValue);
    const previous = this.stateValue;
    const worker = this.requireWorker();
    if (previous === 'running') await worker.request({ type: 'pause' });
    this.transition('saving');
    try {
      const captured = await worker.request<SavedState>({ type: 'save', againstGolden }, 120_000);
      const result = await persist(captured);
      if (stop) {
        this.worker = null;
        await this.endWorker(worker);
        this.startedAt = null;
        this.transition('saved');
      } else {
        if (previous === 'running') await worker.request({ type: 'unpause' });
        this.transition(previous);
      }
      return result;
    } catch (error) {
      if (this.stateValue === 'saving') {
        if (previous === 'running')
          await worker.request({ type: 'unpause' }).catch(() => undefined);
        this.transition(previous);
      }
      throw error;
    }
  }

  async destroy(): Promise<void> {
    assertOperation(this.id, 'destroy', this.stateValue);
    const worker = this.worker;
    this.worker = null;
    this.transition('stopped');
    this.watchers.clear();
    this.audioListeners.clear();
    this.abandonBoot?.(new Error(`domain ${this.id} was destroyed while starting`));
    this.abandonBoot = null;
    if (worker) await this.endWorker(worker);
    await this.console.close();
  }

  /** Ends a worker after its disk is settled and closed, so no acknowledged write is lost. */
  private async endWorker(worker: DomainWorkerHandle): Promise<void> {
    await worker.request({ type: 'close-disk' }, CLOSE_DISK_TIMEOUT_MS).catch(() => undefined);
    await worker.terminate();
  }

  /** Moves a running domain's disk onto a durable overlay (a claimed standby VM). */
  async makeDiskDurable(overlayPath: string, base: DiskBase): Promise<DiskReport> {
    return this.requireWorker().request<DiskReport>(
      { type: 'make-disk-durable', overlayPath, base },
      CLOSE_DISK_TIMEOUT_MS,
    );
  }

  /**
   * Writes a durable copy of the memory disk to `overlayPath` ahead of `makeDiskDurable` to the
   * same path, which then only swaps stores (a standby domain, paused, before it is claimed).
   */
  async stageDurableDisk(overlayPath: string, base: DiskBase): Promise<void> {
    await this.requireWorker().request(
      { type: 'stage-durable-disk', overlayPath, base },
      CLOSE_DISK_TIMEOUT_MS,
    );
  }

  /** Drops the staged durable copy (the standby became a domain without a durable disk). */
  async discardStagedDisk(): Promise<void> {
    await this.requireWorker().request({ type: 'discard-staged-disk' });
  }

  /** Overlay size and kind, from the worker; null when no worker runs. */
  async diskReport(): Promise<DiskReport | null> {
    if (!this.worker) return null;
    return this.worker.request<DiskReport>({ type: 'disk-report' });
  }

  // ---- Relocation (host/relocation/) ----------------------------------------------------------

  /** Changed guest memory pages since last sent, a slice at a time while the guest runs. */
  relocationScan(maxPages: number): Promise<RelocationPages & { roundDone: boolean }> {
    return this.requireWorker().request({ type: 'relocation-scan', maxPages });
  }

  /** Stops the guest for the last round without a state change (viewers see a freeze). */
  async freeze(): Promise<void> {
    await this.requireWorker().request({ type: 'pause' });
  }

  /** Runs a frozen guest again (the relocation failed). */
  async thaw(): Promise<void> {
    await this.requireWorker().request({ type: 'unpause' });
  }

  /**
   * Stop and copy: freezes the guest and, in the same worker turn, finds the pages written since
   * last sent and takes the device state (one round trip inside the pause, not three).
   */
  relocationStopAndCopy(): Promise<StopAndCopy> {
    return this.requireWorker().request({ type: 'relocation-stop-and-copy' });
  }

  /** The frozen machine's device state without guest RAM and SVGA memory. */
  relocationDeviceState(): Promise<ArrayBuffer> {
    return this.requireWorker().request({ type: 'relocation-device-state' });
  }

  /** A memory overlay's blocks (disposable and system domains). */
  exportDiskBlocks(): Promise<DiskBlocks> {
    return this.requireWorker().request({ type: 'relocation-disk-blocks' });
  }

  endRelocation(): void {
    this.worker?.send({ type: 'relocation-end' });
  }

  /** Receiving side: pages into the waiting worker's memory. */
  async receivePages(pages: RelocationPages): Promise<void> {
    await this.requireWorker().request({ type: 'relocation-pages', ...pages });
  }

  async importDiskBlocks(blocks: DiskBlocks): Promise<void> {
    await this.requireWorker().request({ type: 'relocation-import-disk', ...blocks });
  }

  /** Receiving side: restores the device state over the received memory, guest paused. */
  async prepareIncoming(
    deviceState: ArrayBuffer,
    durable: { overlayPath: string; base: DiskBase } | null,
    pages: RelocationPages | null,
  ): Promise<WorkerPrepared> {
    return this.requireWorker().request<WorkerPrepared>(
      { type: 'relocation-prepare', deviceState, durable, pages },
      CLOSE_DISK_TIMEOUT_MS,
    );
  }

  /** Receiving side: runs the prepared guest; `boot` then resolves. */
  async runIncoming(): Promise<void> {
    await this.requireWorker().request({ type: 'relocation-run' });
  }

  /**
   * The domain now runs on another host: ends the worker without reporting `stopped`, which
   * viewers would take for the end of the VM (they follow `domain:moved` instead).
   */
  async handOver(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.stateValue = 'stopped';
    this.watchers.clear();
    this.audioListeners.clear();
    if (worker) await worker.terminate();
    await this.console.close();
  }

  /** Marks a domain whose worker failed to start as crashed without a worker. */
  markCrashed(error: string): void {
    this.error = error;
    if (this.stateValue !== 'crashed' && this.stateValue !== 'stopped') this.transition('crashed');
  }

  watch(watcherId: string): void {
    assertOperation(this.id, 'watch', this.stateValue);
    const first = this.watchers.size === 0 && !this.watchers.has(watcherId);
    this.watchers.add(watcherId);
    this.idleSinceValue = null;
    // Every new watcher needs a keyframe; the worker sends one when watching starts or on ask.
    this.worker?.send(
      this.watchers.size === 1 ? { type: 'watch', watching: true } : { type: 'keyframe' },
    );
    this.emitState();
    if (first) this.emit('in-use', true);
  }

  unwatch(watcherId: string): void {
    if (!this.watchers.delete(watcherId)) return;
    if (this.watchers.size === 0) {
      this.worker?.send({ type: 'watch', watching: false });
      this.idleSinceValue = Date.now();
    }
    this.emitState();
    if (this.watchers.size === 0) this.emit('in-use', false);
  }

  /** Starts sending `audio` for this listener (a control connection). */
  listen(listenerId: string): void {
    assertOperation(this.id, 'watch', this.stateValue);
    this.audioListeners.add(listenerId);
    if (this.audioListeners.size === 1)
      this.worker?.send({ type: 'audio-listen', listening: true });
  }

  unlisten(listenerId: string): void {
    if (!this.audioListeners.delete(listenerId) || this.audioListeners.size > 0) return;
    this.worker?.send({ type: 'audio-listen', listening: false });
  }

  requestKeyframe(): void {
    this.worker?.send({ type: 'keyframe' });
  }

  captureScreen(): Promise<ScreenCapture> {
    assertOperation(this.id, 'screenshot', this.stateValue);
    return this.requireWorker().request<ScreenCapture>({ type: 'screen' });
  }

  key(code: string, down: boolean): void {
    if (this.stateValue === 'running') this.worker?.send({ type: 'key', code, down });
  }

  /** Types a character with the keys the guest's keyboard layout needs for it. */
  char(char: string): void {
    if (this.stateValue === 'running') this.worker?.send({ type: 'char', char });
  }

  /**
   * Sets the guest's X keyboard layout through its agent, then has the input device type
   * characters by it. Throws when the guest cannot (no X, no agent answer).
   */
  async setKeyboardLayout(layout: KeyboardLayout): Promise<KeyboardLayout> {
    return this.whileInputHeld(async () => {
      await this.agentRequest('keyboard-layout', [layout], KEYBOARD_LAYOUT_TIMEOUT_MS);
      this.keyboardLayoutValue = layout;
      this.worker?.send({ type: 'keyboard-layout', layout });
      return layout;
    });
  }

  /**
   * Runs `work` (a guest agent request that changes the screen mode or the keymap) while key
   * presses, pointer and wheel events wait in the worker. Keys typed while X and the window
   * manager reconfigure were lost, two or more in a line typed during a resize (4 of 4 probe
   * runs); a click then could freeze the guest's pointer for good (JWM restarts on a resize and
   * drops the click its button grab caught). Held, they go after it, in order.
   */
  async whileInputHeld<T>(work: () => Promise<T>): Promise<T> {
    if (this.inputHolds++ === 0) this.worker?.send({ type: 'hold-input', held: true });
    try {
      return await work();
    } finally {
      if (--this.inputHolds === 0) this.worker?.send({ type: 'hold-input', held: false });
    }
  }

  get keyboardLayout(): KeyboardLayout | null {
    return this.keyboardLayoutValue;
  }

  pointer(x: number, y: number, buttons: number): void {
    if (this.stateValue === 'running') this.worker?.send({ type: 'pointer', x, y, buttons });
  }

  wheel(dx: number, dy: number): void {
    if (this.stateValue === 'running') this.worker?.send({ type: 'wheel', dx, dy });
  }

  releaseKeys(): void {
    this.worker?.send({ type: 'release-keys' });
  }

  /** Types raw bytes into a serial port of the guest (port 0 is the console). */
  serialInput(port: number, bytes: Uint8Array): void {
    this.worker?.send({ type: 'serial-input', port, bytes });
  }

  /** A request to the guest agent over the paravirtual serial channel. */
  agentRequest(
    command: string,
    args: string[],
    timeoutMs = 10_000,
    payload?: Uint8Array,
  ): Promise<string> {
    return this.requireWorker().request<string>(
      { type: 'agent', command, args, timeoutMs, payload },
      timeoutMs + 1_000,
    );
  }

  /** Resolves with the first agent event line matching `pattern`. */
  waitForAgentEvent(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('agent', onLine);
        reject(new Error(`domain ${this.id}: no agent event ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onLine = (line: string) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        this.off('agent', onLine);
        resolve(line);
      };
      this.on('agent', onLine);
    });
  }

  /** Hands a standby domain to its real owner: new name, kind and owner, same machine. */
  claim(spec: Pick<DomainSpec, 'name' | 'kind' | 'owner'>): void {
    Object.assign(this.spec, spec);
    this.emitState();
  }

  /** Test hook and last resort: ends the worker as if it had crashed. */
  async killWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    // Terminating from outside is reported by the handle as an expected exit, so mark it here.
    this.worker = null;
    await worker.terminate();
    this.markCrashed('worker killed');
  }

  private onStats(stats: WorkerStats): void {
    const now = Date.now();
    let mips = 0;
    if (this.lastInstructions) {
      // The counter is a wrapping 32-bit value.
      const delta = (stats.instructions - this.lastInstructions.count + 2 ** 32) % 2 ** 32;
      mips = delta / ((now - this.lastInstructions.at) / 1000) / 1e6;
    }
    this.lastInstructions = { count: stats.instructions, at: now };
    this.stats = {
      cpuPercent: Math.round(stats.utilization * 1000) / 10,
      mips: Math.round(mips * 10) / 10,
      diskOverlayBytes: stats.diskOverlayBytes,
    };
  }

  private requireWorker(): DomainWorkerHandle {
    if (!this.worker) throw new Error(`domain ${this.id} has no running worker`);
    return this.worker;
  }

  private transition(to: DomainState): void {
    assertTransition(this.id, this.stateValue, to);
    this.stateValue = to;
    this.emitState();
  }

  private emitState(): void {
    this.emit('state', this.info());
  }
}

/** The buffers of a boot config's state that the worker can take over without a copy. */
function handedOver(config: DomainBootConfig): ArrayBuffer[] {
  if (config.goldenDelta) return savedStateBuffers({ kind: 'delta', ...config.goldenDelta });
  if (config.initialState) return savedStateBuffers({ kind: 'full', state: config.initialState });
  return [];
}
