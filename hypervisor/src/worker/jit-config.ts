// How much guest code v86's JIT puts in one wasm module.
//
// v86 compiles a guest page that has run hot into a wasm module of up to MAX_PAGES 4 KiB pages
// (3 by default) with the code they reach, and compiles the whole group again each time the
// guest enters it somewhere new. A desktop resumed from its snapshot did that about once a
// second in every minute measured (the first three; its JIT cache is not part of a snapshot),
// and V8 compiles each module, ~70 KiB of wasm, with its optimising compiler on its shared
// helper threads: 6.8 % of a core per idle desktop (bench/idle-threads.ts, 4 desktops), more
// than the desktop's own worker (5.3 %). With one page per module the modules are ~27 KiB and
// cost 2.4 %, and the worker's own CPU stayed the same. Under the density bench's typing
// neighbours the host used 105 % of a core for 10 desktops instead of 181 %.

/** One page per module: see above. `V86_JIT_MAX_PAGES` overrides it. */
export const DEFAULT_JIT_MAX_PAGES = 1;

/** v86's `set_jit_config` / `get_jit_config` settings (src/rust/jit.rs). */
const JIT_CONFIG_MAX_PAGES = 1;

/** The slice of v86's CPU object (`emulator.v86.cpu`) this uses. */
export interface V86JitCpu {
  wm: { exports: Record<string, unknown> };
}

/**
 * Sets how many guest pages v86's JIT may put in one module, for modules compiled from now on.
 * Returns false (and changes nothing) when this v86 build does not export its JIT settings.
 */
export function setJitMaxPages(cpu: V86JitCpu, pages: number): boolean {
  const set = cpu.wm.exports.set_jit_config;
  const get = cpu.wm.exports.get_jit_config;
  if (typeof set !== 'function' || typeof get !== 'function') return false;
  (set as (index: number, value: number) => void)(JIT_CONFIG_MAX_PAGES, pages);
  return (get as (index: number) => number)(JIT_CONFIG_MAX_PAGES) === pages;
}
