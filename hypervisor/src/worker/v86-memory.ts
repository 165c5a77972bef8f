// The parts of v86's internals that relocation and golden-delta suspends need: where guest RAM
// and SVGA memory live in its wasm memory, its state without them, and where they sit in a
// saved state. v86's `save_state` packs RAM through the instance method `cpu.pack_memory`
// (nonzero pages and a bitmap of them, CPU state slots 77 and 78) and SVGA memory as VGA state
// slot 39; relocation and delta suspends carry both as pages instead, so for the device state
// they are swapped out for empty ones, and on restore `cpu.unpack_memory` is skipped so the
// pages already written stay.
import type { MemoryRegion } from './relocation/dirty-pages.ts';

const SVGA_STATE_SLOT = 39;
const RAM_SIZE_SLOT = 0;
const VGA_SLOT = 52;
const PACKED_RAM_SLOT = 77;
const RAM_BITMAP_SLOT = 78;
/** v86's state container (src/state.js): a 16-byte header, a JSON info block, then buffers. */
const STATE_MAGIC = 0x86768676 | 0;
const STATE_VERSION = 6;
const STATE_INFO_START = 16;

interface V86Vga {
  svga_memory: { readonly byteOffset: number };
  vga_memory_size: number;
  get_state(): unknown[];
}

interface V86Cpu {
  wasm_memory: { readonly buffer: ArrayBuffer };
  mem8: { readonly byteOffset: number };
  memory_size: { readonly [index: number]: number };
  pack_memory(): unknown;
  unpack_memory(bitmap: unknown, packed: unknown): void;
  devices: { vga?: V86Vga };
}

export interface V86WithMemory {
  v86: { cpu: V86Cpu };
  save_state(): Promise<ArrayBuffer>;
  restore_state(state: ArrayBuffer): Promise<void>;
}

/** Guest RAM, then SVGA memory (when the machine has a VGA card). */
export function memoryRegions(emulator: V86WithMemory): MemoryRegion[] {
  const cpu = emulator.v86.cpu;
  const ramBytes = cpu.memory_size[0]!;
  const ramOffset = cpu.mem8.byteOffset;
  const regions: MemoryRegion[] = [
    { bytes: ramBytes, view: () => new Uint8Array(cpu.wasm_memory.buffer, ramOffset, ramBytes) },
  ];
  const vga = cpu.devices.vga;
  if (vga) {
    const offset = vga.svga_memory.byteOffset;
    const bytes = vga.vga_memory_size;
    regions.push({ bytes, view: () => new Uint8Array(cpu.wasm_memory.buffer, offset, bytes) });
  }
  return regions;
}

/** The paused machine's state with empty RAM and SVGA memory. */
export async function deviceStateWithoutMemory(emulator: V86WithMemory): Promise<ArrayBuffer> {
  const cpu = emulator.v86.cpu;
  const vga = cpu.devices.vga;
  const pages = cpu.memory_size[0]! >> 12;
  const packMemory = Object.getOwnPropertyDescriptor(cpu, 'pack_memory');
  const vgaState = vga && Object.getOwnPropertyDescriptor(vga, 'get_state');
  cpu.pack_memory = () => ({
    bitmap: { get_buffer: () => new ArrayBuffer(Math.ceil(pages / 8)) },
    packed_memory: new Uint8Array(0),
  });
  if (vga) {
    const original = vga.get_state.bind(vga);
    vga.get_state = () => {
      const state = original();
      state[SVGA_STATE_SLOT] = new Uint8Array(0);
      return state;
    };
  }
  try {
    return await emulator.save_state();
  } finally {
    restoreOwn(cpu, 'pack_memory', packMemory);
    if (vga) restoreOwn(vga, 'get_state', vgaState);
  }
}

/** Restores a device state over memory already received page by page. */
export async function restoreOverMemory(
  emulator: V86WithMemory,
  deviceState: ArrayBuffer,
): Promise<void> {
  const cpu = emulator.v86.cpu;
  const unpack = Object.getOwnPropertyDescriptor(cpu, 'unpack_memory');
  cpu.unpack_memory = () => undefined;
  try {
    await emulator.restore_state(deviceState);
  } finally {
    restoreOwn(cpu, 'unpack_memory', unpack);
  }
}

/** Zeroes every region: the sender assumes pages it never sent are zero. */
export function zeroRegions(regions: readonly MemoryRegion[]): void {
  for (const region of regions) region.view().fill(0);
}

/** Puts back an instance property, or removes the override so the prototype's shows again. */
function restoreOwn(target: object, key: string, descriptor: PropertyDescriptor | undefined): void {
  if (descriptor) Object.defineProperty(target, key, descriptor);
  else delete (target as Record<string, unknown>)[key];
}

/** Guest memory as a saved v86 state holds it: RAM as its nonzero pages, and SVGA memory whole. */
export interface StateMemory {
  ramBytes: number;
  /** One bit per RAM page, least significant first: set when the page is in `packedRam`. */
  ramBitmap: Uint8Array;
  /** The nonzero RAM pages, in page order. */
  packedRam: Uint8Array;
  svga: Uint8Array | null;
}

interface BufferRef {
  buffer_id: number;
}

/** Views into `state` (a v86 `save_state` result, uncompressed) of the guest memory it holds. */
export function stateMemory(state: ArrayBuffer | SharedArrayBuffer): StateMemory {
  if (state.byteLength < STATE_INFO_START) throw new Error('not a v86 state: too short');
  const [magic, version, totalBytes, infoBytes] = new Int32Array(state, 0, 4);
  if (magic !== STATE_MAGIC) throw new Error('not an uncompressed v86 state');
  if (version !== STATE_VERSION) throw new Error(`v86 state version ${version}, expected 6`);
  if (totalBytes !== state.byteLength || infoBytes! <= 0) throw new Error('truncated v86 state');
  const info = JSON.parse(
    new TextDecoder().decode(new Uint8Array(state, STATE_INFO_START, infoBytes)),
  ) as { state: unknown[]; buffer_infos: { offset: number; length: number }[] };
  const buffersStart = (STATE_INFO_START + infoBytes! + 3) & ~3;
  const view = (ref: unknown): Uint8Array => {
    const entry = info.buffer_infos[(ref as BufferRef).buffer_id];
    if (!entry) throw new Error('v86 state refers to a missing buffer');
    return new Uint8Array(state, buffersStart + entry.offset, entry.length);
  };
  const vga = info.state[VGA_SLOT] as unknown[] | undefined;
  return {
    ramBytes: info.state[RAM_SIZE_SLOT] as number,
    ramBitmap: view(info.state[RAM_BITMAP_SLOT]),
    packedRam: view(info.state[PACKED_RAM_SLOT]),
    svga: vga ? view(vga[SVGA_STATE_SLOT]) : null,
  };
}
