// Node has the WebAssembly global, but TypeScript only types it in lib.dom, which the
// hypervisor must not pull in. These are the few parts the domain worker and its tests use.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: BufferSource);
    static imports(module: Module): { module: string; name: string; kind: string }[];
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class Table {
    constructor(descriptor: { element: 'anyfunc'; initial: number });
  }
  type Exports = Record<string, unknown>;
  type Imports = Record<string, Record<string, unknown>>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
}
