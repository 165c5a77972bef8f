import assert from 'node:assert/strict';
import { test } from 'node:test';
import { v86WasmExports } from './v86-wasm-fixture.ts';
import { reserveWasmHeap, WASM_HEAP_RESERVE_BYTES, WasmHeapReserve } from './wasm-heap.ts';

interface V86Exports {
  memory: WebAssembly.Memory;
  v86_malloc(size: number): number;
  v86_free(pointer: number): void;
}

/** v86's own wasm: enough to drive its allocator. */
function v86Wasm(): V86Exports {
  return v86WasmExports() as unknown as V86Exports;
}

function cpuOf(wasm: V86Exports) {
  return { wm: { exports: wasm as never }, wasm_memory: wasm.memory };
}

/** Allocates `count` blocks of a few KiB, as the JIT does; returns how often memory grew. */
function allocateLikeTheJit(wasm: V86Exports, count: number): number {
  let grows = 0;
  let buffer = wasm.memory.buffer;
  for (let i = 0; i < count; i++) {
    assert.ok(wasm.v86_malloc(1000 + (i % 7) * 1000) > 4);
    if (wasm.memory.buffer !== buffer) {
      grows++;
      buffer = wasm.memory.buffer;
    }
  }
  return grows;
}

test('without a reserve, v86 grows its wasm memory as it allocates', () => {
  assert.ok(allocateLikeTheJit(v86Wasm(), 3000) > 0);
});

test('after a reserve, 12 MiB of allocations do not grow wasm memory', () => {
  const wasm = v86Wasm();
  const before = wasm.memory.buffer.byteLength;
  assert.equal(reserveWasmHeap(cpuOf(wasm)), true);
  assert.ok(wasm.memory.buffer.byteLength >= before + WASM_HEAP_RESERVE_BYTES);
  assert.equal(allocateLikeTheJit(wasm, 3000), 0);
});

test('the reserve is made again only after it has run out', () => {
  const wasm = v86Wasm();
  const reserve = new WasmHeapReserve(cpuOf(wasm), 4 * 1024 * 1024);
  reserve.refill();
  const reserved = wasm.memory.buffer;
  reserve.refill();
  assert.equal(wasm.memory.buffer, reserved);
  // 3000 blocks of 1-7 KiB (about 12 MiB) outrun a 4 MiB reserve...
  assert.ok(allocateLikeTheJit(wasm, 3000) > 0);
  const grown = wasm.memory.buffer.byteLength;
  reserve.refill();
  assert.ok(wasm.memory.buffer.byteLength >= grown + 4 * 1024 * 1024);
  // ...and the new reserve serves the next 2 MiB without a grow.
  assert.equal(allocateLikeTheJit(wasm, 500), 0);
});

test('a v86 without an exported allocator is left alone', () => {
  const memory = { buffer: new ArrayBuffer(0) };
  assert.equal(reserveWasmHeap({ wm: { exports: {} }, wasm_memory: memory }), false);
  const freed: number[] = [];
  const failing = { v86_malloc: () => 4, v86_free: (p: number) => freed.push(p) };
  assert.equal(reserveWasmHeap({ wm: { exports: failing }, wasm_memory: memory }), false);
  assert.deepEqual(freed, []);
});
