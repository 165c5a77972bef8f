// The parts of v86's internals relocation needs: where guest RAM and SVGA memory live in its
// wasm memory, and its state without them. v86's `save_state` packs RAM through the
// instance method `cpu.pack_memory` and SVGA memory as VGA state slot 39; relocation sends both
// as pages instead, so for the device state they are swapped out for empty ones, and on the
// receiving side `cpu.unpack_memory` is skipped so the received pages stay.
import type { MemoryRegion } from './dirty-pages.ts';

const SVGA_STATE_SLOT = 39;

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
