// v86's own wasm with do-nothing imports, for tests of what the worker sets in it (its
// allocator's reserve, its JIT settings) without an emulator around it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function v86WasmExports(): Record<string, unknown> {
  const module = new WebAssembly.Module(readFileSync(require.resolve('v86/build/v86.wasm')));
  const env: Record<string, unknown> = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    env[entry.name] =
      entry.kind === 'function'
        ? () => 0
        : new WebAssembly.Table({ element: 'anyfunc', initial: 2048 });
  }
  return new WebAssembly.Instance(module, { env }).exports as Record<string, unknown>;
}
