// Entry point of a domain worker thread: one v86 instance wired to its virtual devices.
// Everything here runs in the worker, so a guest or emulator failure stays in this thread.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { V86 } from 'v86';
import { GuestAgentClient } from './devices/agent/guest-agent-client.ts';
import { AudioDevice, type V86Sb16Like } from './devices/audio/index.ts';
import { CowDisk } from './devices/disk/cow-disk.ts';
import { DurableOverlay } from './devices/disk/durable-overlay.ts';
import { MemoryOverlay, type OverlayStore } from './devices/disk/overlay-store.ts';
import {
  DisplayDevice,
  installImageDataShim,
  type CapturedFrame,
} from './devices/display/index.ts';
import {
  InputDevice,
  InputQueue,
  type GuestProgress,
  type QueuedInput,
} from './devices/input/index.ts';
import { guestNetworkOptions, startGuestForwards } from '../network/guest-nic.ts';
import {
  CpuGovernor,
  CPU_REPORT_MS,
  IDLE_CPU_REPORT_MS,
  isIdleUsage,
  type V86Loop,
} from './cpu-governor.ts';
import type {
  DomainBootConfig,
  ParentToWorker,
  StopAndCopy,
  WorkerPrepared,
  WorkerToParent,
} from './messages.ts';
import { WasmHeapReserve, type V86WasmCpu } from './wasm-heap.ts';
import { setJitMaxPages } from './jit-config.ts';
import { DirtyPageTracker, writePages, type MemoryRegion } from './relocation/dirty-pages.ts';
import { GoldenMemory } from './golden-memory.ts';
import { savedStateBuffers, type SavedState } from '../snapshots/saved-state.ts';
import {
  deviceStateWithoutMemory,
  memoryRegions,
  restoreOverMemory,
  zeroRegions,
  type V86WithMemory,
} from './v86-memory.ts';
import { stopwatch } from '../stopwatch.ts';

if (!parentPort) throw new Error('domain worker must run in a worker thread');
const port = parentPort;

const CONSOLE_FLUSH_MS = 50;
const STATS_INTERVAL_MS = 1000;
const HEAP_RESERVE_CHECK_MS = 1000;
const AGENT_PORT = 1;
// The longest agent reply: a base64 clipboard text or file chunk (guest-transfer.ts limits).
const AGENT_MAX_LINE_BYTES = 2 * 1024 * 1024;
// The guest drops scancodes that arrive in a burst (a pasted line, a fast script), so key
// events are fed to the PS/2 controller no faster than a very fast typist, and each press only
// once the guest has taken in the events before it (KeyPacer: a starved guest gets them as it runs).
const KEY_EVENT_GAP_MS = 8;
// Pages hashed per slice of a relocation scan (16 MiB, a few ms) before the guest runs again.
const RELOCATION_SCAN_SLICE_PAGES = 4096;

function post(message: WorkerToParent, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(
    buffer.byteOffset,
    buffer.byteOffset + buffer.byteLength,
  ) as ArrayBuffer;
}

function fatal(error: unknown): never {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  post({ type: 'fatal', error: message });
  // Give the message a moment to leave before the thread dies.
  setTimeout(() => process.exit(1), 20);
  throw error;
}

process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

class DomainRuntime {
  private readonly emulator: V86;
  private readonly display: DisplayDevice;
  private readonly input: InputDevice;
  private readonly audio: AudioDevice;
  private readonly agent: GuestAgentClient;
  private readonly disk: CowDisk;
  private frameTimer: NodeJS.Timeout | null = null;
  /** A frame held back by the rate cap, sent when the cap allows. */
  private drawTimer: NodeJS.Timeout | null = null;
  private lastFrameAt = -Infinity;
  /** Least time between frames sent because the guest drew; null = only the clock sends. */
  private readonly minDrawGapMs: number | null;
  private watching = false;
  private paused = false;
  /**
   * Until the guest's memory and devices are in place: a capture then would show v86's
   * power-on text screen (a black 640x400 keyframe ahead of the restored desktop's).
   */
  private loading = true;
  private consoleChunks: number[] = [];
  /** Pending console flush; armed by the first byte after a flush, so a quiet guest has none. */
  private consoleTimer: NodeJS.Timeout | null = null;
  private cpuReportTimer: NodeJS.Timeout | null = null;
  /** When the next CPU report is due (an idle guest reports seldom; input brings it forward). */
  private cpuReportDue = 0;
  /** Keys, characters, pointer and wheel events on their way to the guest (see feedInput). */
  private readonly inputQueue = new InputQueue({
    key: (code, down) => this.input.key(code, down),
    planChar: (ch) => this.input.planChar(ch),
    pointer: (x, y, buttons) => {
      const screen = this.display.size();
      this.input.pointer(x, y, buttons, screen.width, screen.height);
    },
    wheel: (dx, dy) => this.input.wheel(dx, dy),
  });
  private inputTimer: NodeJS.Timeout | null = null;
  private lastElu = performance.eventLoopUtilization();
  private readonly governor = new CpuGovernor();
  private heapReserve: WasmHeapReserve | null = null;
  /** What a relocation in progress has sent of guest memory. */
  private dirtyPages: DirtyPageTracker | null = null;
  /** Guest memory, once the emulator is loaded (relocation reads and writes it). */
  private readonly memory: Promise<MemoryRegion[]>;
  private memoryLoaded: (regions: MemoryRegion[]) => void = () => undefined;
  /** How long restoring an arriving guest's device state took (reported when it runs). */
  private incomingRestoreMs = 0;
  /**
   * A guest arriving by relocation that does not run yet: a gateway may watch it ahead of the
   * move, but it gets frames only from when the guest runs (its first is a keyframe).
   */
  private arriving: boolean;
  /**
   * An arriving guest's screen as restored, captured while it waits for the commit: posted the
   * moment it runs, before its first slice, and the base its next frames are diffed against.
   */
  private arrivalKeyframe: CapturedFrame | null = null;
  /** The appliance's golden memory, read from the shared snapshot when first needed. */
  private goldenMemory: GoldenMemory | null = null;

  constructor(private readonly config: DomainBootConfig) {
    installImageDataShim();
    this.minDrawGapMs = config.displayMaxFps > 0 ? 1000 / config.displayMaxFps : null;
    this.disk = new CowDisk(config.rootfsPath, openOverlay(config));
    if (config.initialDiskBlocks) this.disk.importBlocks(config.initialDiskBlocks);
    config.initialDiskBlocks = undefined;
    this.memory = new Promise((resolve) => (this.memoryLoaded = resolve));
    this.arriving = config.incoming === true;
    const restoring =
      config.initialState !== undefined ||
      config.goldenDelta !== undefined ||
      config.incoming === true;
    const wasmModule = config.wasmModule;
    const options: Record<string, unknown> = {
      wasm_path: config.wasmPath,
      wasm_fn: wasmModule
        ? async (imports: WebAssembly.Imports) =>
            (await WebAssembly.instantiate(wasmModule, imports)).exports
        : undefined,
      bios: { buffer: toArrayBuffer(readFileSync(config.biosPath)) },
      vga_bios: { buffer: toArrayBuffer(readFileSync(config.vgaBiosPath)) },
      hda: this.disk,
      memory_size: config.memoryMiB * 1024 * 1024,
      vga_memory_size: config.vgaMemoryMiB * 1024 * 1024,
      uart1: true,
      autostart: false,
      disable_speaker: true,
      // NIC and its backend: v86's fake network here, the host's virtual switch beyond it.
      ...guestNetworkOptions(config.network),
    };
    if (!restoring) {
      options.bzimage = { buffer: toArrayBuffer(readFileSync(config.kernelPath)) };
      options.initrd = { buffer: toArrayBuffer(readFileSync(config.initrdPath)) };
      options.cmdline = config.cmdline;
    }
    const started = performance.now();
    this.emulator = new V86(options as ConstructorParameters<typeof V86>[0]);
    this.display = new DisplayDevice(this.emulator as never);
    this.input = new InputDevice(this.emulator as never);
    this.agent = new GuestAgentClient(
      (bytes) => this.emulator.serial_send_bytes(AGENT_PORT, bytes),
      { maxLineBytes: AGENT_MAX_LINE_BYTES },
    );
    this.agent.onEvent((line) => post({ type: 'agent-event', line }));

    this.audio = new AudioDevice(this.emulator as never, (audio) =>
      post({ type: 'audio', audio }, [audio.data.buffer as ArrayBuffer]),
    );
    this.display.onResize((size) => post({ type: 'resize', ...size }));
    this.emulator.add_listener('serial0-output-byte', (byte) => {
      this.consoleChunks.push(byte);
      this.consoleTimer ??= setTimeout(() => this.flushConsole(), CONSOLE_FLUSH_MS);
    });
    this.emulator.add_listener('serial1-output-byte', (byte) => this.agent.receiveByte(byte));

    this.emulator.add_listener('emulator-loaded', () => {
      void (async () => {
        const loadedMs = performance.now() - started;
        const v86 = (this.emulator as unknown as { v86: V86Loop & { cpu: V86WasmCpu } }).v86;
        setJitMaxPages(v86.cpu, config.jitMaxPages);
        this.governor.install(v86, () => this.afterSlice());
        startGuestForwards(this.emulator as never, config.network);
        const regions = memoryRegions(this.emulator as unknown as V86WithMemory);
        if (config.incoming) {
          // Pages arrive into zeroed memory; `relocation-resume` runs the guest.
          zeroRegions(regions);
          this.heapReserve = new WasmHeapReserve(v86.cpu);
          this.heapReserve.refill();
          this.memoryLoaded(regions);
          // `arriving` holds frames back until relocation-run.
          this.loading = false;
          return;
        }
        this.memoryLoaded(regions);
        if (config.goldenDelta) {
          this.golden().restore(regions, config.goldenDelta);
          await restoreOverMemory(
            this.emulator as unknown as V86WithMemory,
            config.goldenDelta.deviceState,
          );
          this.audio.restoredFrom(soundCard(v86));
        } else if (config.initialState) {
          // v86 restores only from an ArrayBuffer; a golden snapshot's state is shared by all.
          const state = config.initialState;
          await this.emulator.restore_state(
            state instanceof ArrayBuffer ? state : new Uint8Array(state).slice().buffer,
          );
          this.audio.restoredFrom(soundCard(v86));
        }
        // Snapshot blocks loaded into a fresh personal overlay must be durable before it runs.
        await this.disk.settle();
        // The state is now in guest memory; keeping the copy would double this VM's footprint.
        config.initialState = undefined;
        config.goldenDelta = undefined;
        // Else v86's JIT grows wasm memory in small steps, each costing a full GC (wasm-heap.ts).
        this.heapReserve = new WasmHeapReserve(v86.cpu);
        this.heapReserve.refill();
        const restoreMs = performance.now() - started - loadedMs;
        await this.emulator.run();
        this.loading = false;
        post({
          type: 'booted',
          restored: restoring,
          bootMs: performance.now() - started,
          loadedMs,
          restoreMs,
        });
        // A watch that came while loading got no frame; the guest's first slice may send it.
        this.display.requestKeyframe();
        if (this.watching) setImmediate(() => this.sendFrame(false));
      })().catch(fatal);
    });

    setInterval(() => this.postStats(), STATS_INTERVAL_MS).unref();
    setInterval(() => this.heapReserve?.refill(), HEAP_RESERVE_CHECK_MS).unref();
    this.scheduleCpuReport(CPU_REPORT_MS);
  }

  handle(message: ParentToWorker): void {
    switch (message.type) {
      case 'boot':
        return;
      case 'pause':
        return this.reply(message.requestId, async () => {
          await this.pauseGuest();
          return null;
        });
      case 'unpause':
        return this.reply(message.requestId, async () => {
          await this.emulator.run();
          this.paused = false;
          this.audio.setPaused(false);
          this.updateFrameClock();
          // After the answer: capturing the keyframe took most of an unpause (a standby claim).
          setImmediate(() => this.sendFrame(true));
          return null;
        });
      case 'reboot':
        return this.reply(message.requestId, async () => {
          this.input.releaseAll();
          this.emulator.restart();
          return null;
        });
      case 'save':
        return this.replyTransfer(message.requestId, async () => {
          // Completes in-flight writes (raising their interrupts) so the state has none pending.
          await this.disk.settle();
          const saved = await this.saveState(message.againstGolden === true);
          return { value: saved, transfer: savedStateBuffers(saved) };
        });
      case 'watch':
        this.watching = message.watching;
        this.updateFrameClock();
        if (this.watching && !this.arriving) this.sendFrame(true);
        return;
      case 'audio-listen':
        this.audio.setListening(message.listening);
        return;
      case 'keyframe':
        if (!this.arriving) this.sendFrame(true);
        return;
      case 'screen':
        return this.replyTransfer(message.requestId, async () => {
          const screen = this.display.snapshot();
          const rgba = screen.rgba.slice();
          return {
            value: { width: screen.width, height: screen.height, mode: screen.mode, rgba },
            transfer: [rgba.buffer as ArrayBuffer],
          };
        });
      case 'cpu-budget':
        this.governor.setBudget(message.budget);
        return;
      case 'key':
        this.pushInput({ kind: 'key', code: message.code, down: message.down });
        return;
      case 'char':
        this.pushInput({ kind: 'char', char: message.char });
        return;
      case 'pointer':
        this.pushInput({ kind: 'pointer', x: message.x, y: message.y, buttons: message.buttons });
        return;
      case 'wheel':
        this.pushInput({ kind: 'wheel', dx: message.dx, dy: message.dy });
        return;
      case 'hold-input':
        if (message.held) this.inputQueue.hold();
        else {
          this.inputQueue.release(this.guestProgress());
          if (!this.inputTimer) this.feedInput();
        }
        return;
      case 'keyboard-layout':
        this.input.setLayout(message.layout);
        return;
      case 'release-keys':
        this.inputQueue.clear();
        this.input.releaseAll();
        return;
      case 'serial-input':
        this.emulator.serial_send_bytes(message.port, message.bytes);
        return;
      case 'agent':
        return this.reply(message.requestId, () =>
          message.payload
            ? this.agent.requestWithPayload(
                message.command,
                message.args,
                message.payload,
                message.timeoutMs,
              )
            : this.agent.request(message.command, message.args, message.timeoutMs),
        );
      case 'ping':
        post({ type: 'reply', requestId: message.requestId, ok: true, value: 'pong' });
        return;
      case 'make-disk-durable':
        return this.reply(message.requestId, async () => {
          if (!this.disk.adoptStagedOverlay(message.overlayPath)) {
            const overlay = DurableOverlay.open(
              message.overlayPath,
              message.base,
              this.config.domainId,
            );
            await this.disk.moveOverlay(overlay);
          }
          return this.disk.report();
        });
      case 'stage-durable-disk':
        return this.reply(message.requestId, async () => {
          this.disk.discardStagedOverlay();
          await this.disk.stageOverlay(
            DurableOverlay.open(message.overlayPath, message.base, this.config.domainId),
          );
          return null;
        });
      case 'discard-staged-disk':
        return this.reply(message.requestId, async () => {
          this.disk.discardStagedOverlay();
          return null;
        });
      case 'disk-report':
        return this.reply(message.requestId, async () => this.disk.report());
      case 'close-disk':
        return this.reply(message.requestId, async () => {
          await this.emulator.stop();
          await this.disk.settle();
          this.disk.close();
          return null;
        });
      case 'relocation-scan':
        return this.replyTransfer(message.requestId, async () => {
          const batch = await this.scanDirtyPages(message.maxPages);
          return {
            value: batch,
            transfer: [batch.pages.buffer as ArrayBuffer, batch.data.buffer as ArrayBuffer],
          };
        });
      case 'relocation-device-state':
        return this.replyTransfer(message.requestId, async () => {
          if (!this.paused) throw new Error('device state is taken from a paused guest');
          await this.disk.settle();
          const state = await deviceStateWithoutMemory(this.emulator as unknown as V86WithMemory);
          return { value: state, transfer: [state] };
        });
      case 'relocation-stop-and-copy':
        return this.replyTransfer(message.requestId, async () => {
          const lap = stopwatch();
          await this.pauseGuest();
          const stopMs = lap();
          // The guest is stopped: one pass over all of memory, with nothing to yield to.
          this.dirtyPages ??= new DirtyPageTracker(await this.memory);
          const batch = this.dirtyPages.scanAll();
          const scanMs = lap();
          const deviceState = await deviceStateWithoutMemory(
            this.emulator as unknown as V86WithMemory,
          );
          const value: StopAndCopy = {
            pages: batch.pages,
            data: batch.data,
            deviceState,
            stopMs,
            scanMs,
            deviceStateMs: lap(),
          };
          return {
            value,
            transfer: [
              batch.pages.buffer as ArrayBuffer,
              batch.data.buffer as ArrayBuffer,
              deviceState,
            ],
          };
        });
      case 'relocation-disk-blocks':
        return this.replyTransfer(message.requestId, async () => {
          await this.disk.settle();
          const blocks = this.disk.exportBlocks();
          return {
            value: blocks,
            transfer: [blocks.blocks.buffer as ArrayBuffer, blocks.data.buffer as ArrayBuffer],
          };
        });
      case 'relocation-end':
        this.dirtyPages = null;
        return;
      case 'relocation-pages':
        return this.reply(message.requestId, async () => {
          writePages(await this.memory, { pages: message.pages, data: message.data });
          return null;
        });
      case 'relocation-import-disk':
        return this.reply(message.requestId, async () => {
          this.disk.importBlocks({ blocks: message.blocks, data: message.data });
          return null;
        });
      case 'relocation-prepare':
        return this.reply(message.requestId, async () => {
          await this.memory;
          const lap = stopwatch();
          if (message.durable) {
            const { overlayPath, base } = message.durable;
            await this.disk.moveOverlay(
              DurableOverlay.open(overlayPath, base, this.config.domainId),
            );
          }
          const overlayMs = lap();
          if (message.pages) writePages(await this.memory, message.pages);
          lap();
          await restoreOverMemory(this.emulator as unknown as V86WithMemory, message.deviceState);
          this.audio.restoredFrom(soundCard((this.emulator as unknown as { v86: unknown }).v86));
          this.incomingRestoreMs = lap();
          this.paused = true;
          // After the answer: the sender records its decision meanwhile.
          setImmediate(() => {
            if (this.arriving) this.arrivalKeyframe = this.display.captureFrame({ keyframe: true });
          });
          const prepared: WorkerPrepared = { overlayMs, restoreMs: this.incomingRestoreMs };
          return prepared;
        });
      case 'relocation-run':
        return this.reply(message.requestId, async () => {
          // The screen as it froze goes first (the gateway already shows it, so it costs its
          // viewers nothing); what the guest draws once it runs then goes as small updates,
          // not behind a whole-screen capture waiting for the guest's first slices to yield.
          // Nobody watching: a watch sends a keyframe anyway.
          const keyframe = this.watching
            ? (this.arrivalKeyframe ?? this.display.captureFrame({ keyframe: true }))
            : null;
          this.arrivalKeyframe = null;
          if (keyframe) this.postFrame(keyframe);
          await this.emulator.run();
          this.paused = false;
          this.arriving = false;
          this.updateFrameClock();
          const restoreMs = this.incomingRestoreMs;
          post({ type: 'booted', restored: true, bootMs: restoreMs, loadedMs: 0, restoreMs });
          return null;
        });
    }
  }

  /**
   * The paused guest's state: against the golden snapshot (device state and the pages that
   * differ) when asked and the machine has the golden's memory layout, else v86's whole state.
   */
  private async saveState(againstGolden: boolean): Promise<SavedState> {
    const regions = await this.memory;
    if (againstGolden && this.config.golden && this.golden().fits(regions)) {
      const golden = this.golden();
      const deviceState = await deviceStateWithoutMemory(this.emulator as unknown as V86WithMemory);
      return { kind: 'delta', goldenId: golden.id, deviceState, ...golden.diff(regions) };
    }
    return { kind: 'full', state: await this.emulator.save_state() };
  }

  private golden(): GoldenMemory {
    if (!this.config.golden) throw new Error('this VM was started without its golden snapshot');
    this.goldenMemory ??= new GoldenMemory(this.config.golden);
    return this.goldenMemory;
  }

  /** Stops the guest where it is, its disk writes settled (no state change: a freeze). */
  private async pauseGuest(): Promise<void> {
    await this.emulator.stop();
    await this.disk.settle();
    this.paused = true;
    this.audio.setPaused(true);
    this.updateFrameClock();
  }

  /**
   * Collects up to `maxPages` changed pages, a slice at a time; between slices the guest runs
   * (v86's loop and this worker's messages share the event loop), so a scan of a running guest
   * never stops it for more than a slice.
   */
  private async scanDirtyPages(
    maxPages: number,
  ): Promise<{ pages: Uint32Array; data: Uint8Array; roundDone: boolean }> {
    this.dirtyPages ??= new DirtyPageTracker(await this.memory);
    const batches: { pages: Uint32Array; data: Uint8Array }[] = [];
    let found = 0;
    for (;;) {
      const batch = this.dirtyPages.scan(RELOCATION_SCAN_SLICE_PAGES, maxPages - found);
      batches.push(batch);
      found += batch.pages.length;
      if (batch.roundDone || found >= maxPages) {
        const pages = new Uint32Array(found);
        const data = new Uint8Array(found * 4096);
        let at = 0;
        for (const part of batches) {
          pages.set(part.pages, at);
          data.set(part.data, at * 4096);
          at += part.pages.length;
        }
        return { pages, data, roundDone: batch.roundDone };
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private pushInput(input: QueuedInput): void {
    this.inputArrived();
    if (this.inputQueue.push(input, this.guestProgress()) && !this.inputTimer) this.feedInput();
  }

  /** Sends what of the queued input may go now, and comes back after the key gap while any waits. */
  private feedInput(): void {
    this.inputTimer = this.inputQueue.feed(this.guestProgress())
      ? setTimeout(() => this.feedInput(), KEY_EVENT_GAP_MS)
      : null;
  }

  private guestProgress(): GuestProgress {
    return {
      ...this.governor.sliceProgress(),
      instructions: this.emulator.get_instruction_counter(),
    };
  }

  /** Input wakes the guest: it may be throttled (boost) and its scheduler should hear soon. */
  private inputArrived(): void {
    this.governor.boost();
    if (this.cpuReportDue - performance.now() > CPU_REPORT_MS)
      this.scheduleCpuReport(CPU_REPORT_MS);
  }

  /**
   * A busy guest reports its CPU use every CPU_REPORT_MS, so the credit scheduler can share the
   * host; a halted one only every IDLE_CPU_REPORT_MS (the scheduler counts a domain without a
   * fresh report as using nothing, which is what it uses).
   */
  private scheduleCpuReport(delayMs: number): void {
    if (this.cpuReportTimer) clearTimeout(this.cpuReportTimer);
    this.cpuReportDue = performance.now() + delayMs;
    this.cpuReportTimer = setTimeout(() => {
      const usage = this.governor.takeUsage();
      post({ type: 'cpu-usage', usage });
      this.scheduleCpuReport(isIdleUsage(usage) ? IDLE_CPU_REPORT_MS : CPU_REPORT_MS);
    }, delayMs);
    this.cpuReportTimer.unref();
  }

  /**
   * The frame clock runs only while someone watches and frames are not already sent as the
   * guest draws (all drawing happens in emulation slices, which afterSlice sees).
   */
  private updateFrameClock(): void {
    const visible = this.watching && !this.paused && !this.arriving;
    const clockWanted = visible && this.minDrawGapMs === null;
    if (clockWanted && !this.frameTimer) {
      this.frameTimer = setInterval(() => this.sendFrame(false), 1000 / this.config.displayFps);
    } else if (!clockWanted && this.frameTimer) {
      clearInterval(this.frameTimer);
      this.frameTimer = null;
    }
    if (!visible && this.drawTimer) {
      clearTimeout(this.drawTimer);
      this.drawTimer = null;
    }
  }

  /**
   * After each emulation slice: whatever the guest drew in it goes out now rather than at the
   * next clock tick. Capturing finds nothing to send in microseconds (v86's SVGA dirty-page
   * bitmap is empty), so this runs every slice; a frame soon after the last one waits for the
   * rate cap, so a busy screen does not flood the daemon and the gateway.
   */
  private afterSlice(): void {
    if (this.minDrawGapMs === null || !this.watching || this.paused || this.drawTimer) return;
    const wait = this.lastFrameAt + this.minDrawGapMs - performance.now();
    if (wait <= 0) {
      this.sendFrame(false);
      return;
    }
    this.drawTimer = setTimeout(() => {
      this.drawTimer = null;
      if (this.watching && !this.paused) this.sendFrame(false);
    }, wait);
  }

  private sendFrame(keyframe: boolean): void {
    if (this.loading) return;
    const frame = this.display.captureFrame({ keyframe });
    if (frame) this.postFrame(frame);
  }

  private postFrame(frame: CapturedFrame): void {
    this.lastFrameAt = performance.now();
    post({ type: 'frame', frame }, [frame.pixels.buffer as ArrayBuffer]);
  }

  private flushConsole(): void {
    this.consoleTimer = null;
    if (this.consoleChunks.length === 0) return;
    const bytes = Uint8Array.from(this.consoleChunks);
    this.consoleChunks = [];
    post({ type: 'console', bytes }, [bytes.buffer]);
  }

  private postStats(): void {
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    post({
      type: 'stats',
      stats: {
        instructions: this.emulator.get_instruction_counter(),
        utilization: elu.utilization,
        diskOverlayBytes: this.disk.overlayBytes,
      },
    });
  }

  private reply(requestId: number, work: () => Promise<unknown>): void {
    this.replyTransfer(requestId, async () => ({ value: await work(), transfer: [] }));
  }

  private replyTransfer(
    requestId: number,
    work: () => Promise<{ value: unknown; transfer: ArrayBuffer[] }>,
  ): void {
    work().then(
      ({ value, transfer }) => post({ type: 'reply', requestId, ok: true, value }, transfer),
      (error: unknown) =>
        post({
          type: 'reply',
          requestId,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  }
}

/** v86's SB16 (always present), for its state after a restore. */
function soundCard(v86: unknown): V86Sb16Like | undefined {
  return (v86 as { cpu?: { devices?: { sb16?: V86Sb16Like } } }).cpu?.devices?.sb16;
}

function openOverlay(config: DomainBootConfig): OverlayStore {
  if (config.disk.kind === 'memory') return new MemoryOverlay();
  return DurableOverlay.open(config.disk.overlayPath, config.disk.base, config.domainId);
}

let runtime: DomainRuntime | null = null;
port.on('message', (message: ParentToWorker) => {
  if (message.type === 'boot') {
    if (runtime) throw new Error('domain worker booted twice');
    runtime = new DomainRuntime(message.config);
    return;
  }
  if (!runtime) throw new Error(`message ${message.type} before boot`);
  runtime.handle(message);
});
post({ type: 'ready' });
