// Messages between the host daemon (parent) and a domain worker. Both sides are our own code
// in one process, so these are plain types; untrusted input is validated before it gets here.
import type { DisplayMode, KeyboardLayout } from '../api/protocol.ts';
import type { CapturedAudio } from './devices/audio/index.ts';
import type { CapturedFrame, DisplaySnapshot } from './devices/display/index.ts';
import type { CpuBudget, CpuUsage } from './cpu-governor.ts';
import type { DiskReport, OverlayBase } from './devices/disk/overlay-store.ts';
import type { GuestNetworkConfig } from '../network/guest-nic.ts';
import type { GoldenDelta, SharedGolden } from '../snapshots/saved-state.ts';

export type { DiskReport };

/** Where a domain's disk writes go: RAM (disposable, system) or a durable overlay file. */
export type DomainDiskConfig =
  { kind: 'memory' } | { kind: 'durable'; overlayPath: string; base: OverlayBase };

export interface DomainBootConfig {
  domainId: string;
  appliance: string;
  wasmPath: string;
  /** v86's wasm compiled once by the host; instantiating it skips a compile per VM. */
  wasmModule?: WebAssembly.Module;
  biosPath: string;
  vgaBiosPath: string;
  kernelPath: string;
  initrdPath: string;
  rootfsPath: string;
  disk: DomainDiskConfig;
  cmdline: string;
  memoryMiB: number;
  vgaMemoryMiB: number;
  /** v86 state to resume from (uncompressed); absent for a cold boot. A golden's is shared. */
  initialState?: ArrayBuffer | SharedArrayBuffer;
  /** Or a state saved against `golden`: its memory is the golden's with these pages over it. */
  goldenDelta?: GoldenDelta;
  /** The appliance's golden snapshot, when the VM has its memory size: saves diff against it. */
  golden?: SharedGolden;
  /** Frame clock while watched (frames per second). */
  displayFps: number;
  /** Frames right after the emulation slice in which the guest drew, at most this many a second; 0 = off. */
  displayMaxFps: number;
  /** Guest pages per wasm module of v86's JIT (jit-config.ts). */
  jitMaxPages: number;
  /** The VM's NIC backend: its own URLs (with token) on the host's virtual switch. */
  network: GuestNetworkConfig;
  /**
   * The guest arrives by relocation: its memory comes in pages (`relocation-pages`), the
   * sender's device state is restored over it (`relocation-prepare`), and it runs only when
   * the sender committed the move (`relocation-run`).
   */
  incoming?: boolean;
  /** Blocks a memory disk starts with (a clone of a disposable or system VM). */
  initialDiskBlocks?: DiskBlocks;
}

/** What the sender's worker replies to `relocation-stop-and-copy`, with its own timings. */
export interface StopAndCopy extends RelocationPages {
  deviceState: ArrayBuffer;
  stopMs: number;
  scanMs: number;
  deviceStateMs: number;
}

/** What the receiver's worker replies to `relocation-prepare`: its timings, in ms. */
export interface WorkerPrepared {
  /** Opening the received overlay file as the disk. */
  overlayMs: number;
  restoreMs: number;
}

/** Guest memory pages (RAM, then SVGA memory, numbered end to end) with their contents. */
export interface RelocationPages {
  pages: Uint32Array;
  data: Uint8Array;
}

/** A memory overlay's blocks, for a relocated or cloned disposable/system domain. */
export interface DiskBlocks {
  blocks: Uint32Array;
  data: Uint8Array;
}

export type ParentToWorker =
  | { type: 'boot'; config: DomainBootConfig }
  | { type: 'pause'; requestId: number }
  | { type: 'unpause'; requestId: number }
  | { type: 'reboot'; requestId: number }
  /** Replies with a SavedState: a golden delta when `againstGolden` and the VM can. */
  | { type: 'save'; requestId: number; againstGolden?: boolean }
  | { type: 'watch'; watching: boolean }
  | { type: 'keyframe' }
  /** Encode the sound card's output and post it (`audio`) while true. */
  | { type: 'audio-listen'; listening: boolean }
  | { type: 'screen'; requestId: number }
  | { type: 'key'; code: string; down: boolean }
  /**
   * The guest agent is changing the screen mode or keymap: key presses, pointer and wheel
   * events wait until it is done (X and the window manager reconfigure meanwhile: keys typed
   * then were lost, and a click then could freeze the guest's pointer; see input-queue.ts).
   */
  | { type: 'hold-input'; held: boolean }
  /** A character to type with the keys the guest's layout needs for it. */
  | { type: 'char'; char: string }
  /** The guest's X keyboard layout changed (the guest agent set it). */
  | { type: 'keyboard-layout'; layout: KeyboardLayout }
  | { type: 'pointer'; x: number; y: number; buttons: number }
  | { type: 'wheel'; dx: number; dy: number }
  | { type: 'release-keys' }
  | { type: 'serial-input'; port: number; bytes: Uint8Array }
  | {
      type: 'agent';
      requestId: number;
      command: string;
      args: string[];
      timeoutMs: number;
      /** Bytes sent after the request line (clipboard text, a file chunk). */
      payload?: Uint8Array;
    }
  | { type: 'ping'; requestId: number }
  /** The credit scheduler's CPU budget for this domain. */
  | { type: 'cpu-budget'; budget: CpuBudget }
  /** Moves a memory disk onto a durable overlay (a standby VM claimed as a personal one). */
  | { type: 'make-disk-durable'; requestId: number; overlayPath: string; base: OverlayBase }
  /**
   * Writes and syncs a copy of the memory disk into a durable overlay kept aside, so a later
   * make-disk-durable to the same path only swaps stores (a paused standby VM, before a claim).
   */
  | { type: 'stage-durable-disk'; requestId: number; overlayPath: string; base: OverlayBase }
  /** Empties and closes the staged overlay (the standby was claimed as a non-personal VM). */
  | { type: 'discard-staged-disk'; requestId: number }
  | { type: 'disk-report'; requestId: number }
  /** Settles and closes the disk so the worker can be terminated without losing a write. */
  | { type: 'close-disk'; requestId: number }
  // ---- Relocation, sending side (relocation.ts) ----
  /** Up to `maxPages` pages changed since sent; replies RelocationPages & { roundDone }. */
  | { type: 'relocation-scan'; requestId: number; maxPages: number }
  /** The paused machine's state without guest RAM and SVGA memory (they go as pages). */
  | { type: 'relocation-device-state'; requestId: number }
  /**
   * Stop and copy in one step: stops the guest, finds every page changed since sent and takes
   * the device state; replies StopAndCopy.
   */
  | { type: 'relocation-stop-and-copy'; requestId: number }
  /** The memory overlay's blocks (DiskBlocks); the durable overlay goes as its file. */
  | { type: 'relocation-disk-blocks'; requestId: number }
  /** Forgets what was sent (the relocation ended either way). */
  | { type: 'relocation-end' }
  // ---- Relocation, receiving side (config.incoming) ----
  | { type: 'relocation-pages'; requestId: number; pages: Uint32Array; data: Uint8Array }
  | { type: 'relocation-import-disk'; requestId: number; blocks: Uint32Array; data: Uint8Array }
  /** Restores the device state over the received memory; the guest stays paused. */
  | {
      type: 'relocation-prepare';
      requestId: number;
      deviceState: ArrayBuffer;
      durable: { overlayPath: string; base: OverlayBase } | null;
      /** The last round's pages, written before the restore. */
      pages: RelocationPages | null;
    }
  /** Runs the prepared guest; the worker then posts `booted`. */
  | { type: 'relocation-run'; requestId: number };

/** A frame as the display device captured it; the host adds domainId and seq. */
export type WorkerFrame = CapturedFrame;

export interface WorkerStats {
  instructions: number;
  /** Share of the worker thread that was busy since the last sample, 0..1. */
  utilization: number;
  diskOverlayBytes: number;
}

export type WorkerToParent =
  /** The worker's modules are loaded; it waits for `boot` (a spare, host/spare-workers.ts). */
  | { type: 'ready' }
  | {
      type: 'booted';
      restored: boolean;
      /** From worker start to running; split into emulator load and state restore. */
      bootMs: number;
      loadedMs: number;
      restoreMs: number;
    }
  | { type: 'frame'; frame: WorkerFrame }
  | { type: 'audio'; audio: CapturedAudio }
  | { type: 'resize'; width: number; height: number; mode: DisplayMode }
  | { type: 'console'; bytes: Uint8Array }
  | { type: 'agent-event'; line: string }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'cpu-usage'; usage: CpuUsage }
  | { type: 'reply'; requestId: number; ok: true; value: unknown }
  | { type: 'reply'; requestId: number; ok: false; error: string }
  | { type: 'fatal'; error: string };

export type ScreenCapture = DisplaySnapshot;
