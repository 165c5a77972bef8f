// Headroom in v86's wasm heap, so that an idle guest does not make its worker run full GCs.
//
// v86's Rust allocator (dlmalloc) takes memory with wasm `memory.grow`, 64 KiB at a time, and
// its JIT keeps allocating for minutes after a restore (a desktop grew its wasm memory 2.6 MiB
// in 3 minutes, 1-7 times every 10 s). Each grow makes V8 wrap the whole wasm memory, guest RAM
// included, in a new ArrayBuffer and count all of it as newly allocated external memory: that
// starts a full GC, and when the memory is over half the worker's old-space limit (a desktop's
// ~280 MiB against 512 / 2) a memory-reducing one, often several in a row.
//
// Allocating one large block and freeing it leaves that much free at the top of dlmalloc's
// heap, and later allocations are served from there without growing; when a busy guest has
// used it up, it is made again. Wasm memory never shrinks, but the reserve's pages are not
// written until used, so it costs address space, not RSS.

/** Enough for the JIT's warm-up after a restore and, at its later pace, hours of idling. */
export const WASM_HEAP_RESERVE_BYTES = 16 * 1024 * 1024;

/** The slice of v86's CPU object (`emulator.v86.cpu`) this uses. */
export interface V86WasmCpu {
  wm: { exports: Record<string, unknown> };
  wasm_memory: { readonly buffer: ArrayBuffer };
}

/**
 * Grows v86's wasm heap once by `bytes` of free space. Returns false (and changes nothing) when
 * this v86 build does not export its allocator or the allocation fails.
 */
export function reserveWasmHeap(cpu: V86WasmCpu, bytes = WASM_HEAP_RESERVE_BYTES): boolean {
  const malloc = cpu.wm.exports.v86_malloc;
  const free = cpu.wm.exports.v86_free;
  if (typeof malloc !== 'function' || typeof free !== 'function') return false;
  const pointer = (malloc as (size: number) => number)(bytes);
  // On failure v86_malloc returns null plus its 4-byte size header; freeing that would corrupt
  // the heap.
  if (pointer <= 4) return false;
  (free as (pointer: number) => void)(pointer);
  return true;
}

/** Keeps a reserve in v86's wasm heap: made once, made again whenever it has run out. */
export class WasmHeapReserve {
  /** The wasm memory's buffer after the last reserve; a grow replaces it. */
  private buffer: ArrayBuffer | null = null;

  constructor(
    private readonly cpu: V86WasmCpu,
    private readonly bytes = WASM_HEAP_RESERVE_BYTES,
  ) {}

  /**
   * Reserves if v86 grew its memory since the last call (its allocator only grows when the
   * reserve is used up), so a busy guest causes one grow per reserve instead of one per 64 KiB.
   * Cheap enough to call every second.
   */
  refill(): void {
    if (this.cpu.wasm_memory.buffer === this.buffer) return;
    reserveWasmHeap(this.cpu, this.bytes);
    this.buffer = this.cpu.wasm_memory.buffer;
  }
}
