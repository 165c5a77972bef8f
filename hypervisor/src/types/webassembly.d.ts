// Node has the WebAssembly global, but TypeScript only types it in lib.dom, which the
// hypervisor must not pull in. These are the few parts the domain worker uses.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: BufferSource);
  }
  class Instance {
    readonly exports: Exports;
  }
  type Exports = Record<string, unknown>;
  type Imports = Record<string, Record<string, unknown>>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
}
