// Kernel module bookkeeping for the initramfs: read `.modinfo` from .ko files, write a
// depmod-style modules.dep when the host has no depmod, and resolve a load order from
// modules.dep for the few modules an image needs.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, basename } from 'node:path';

/** Module name as the kernel sees it: file name without .ko, dashes as underscores. */
export function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');
}

/** The `.modinfo` section of an ELF32/ELF64 little-endian kernel module as key/values. */
export function readModinfo(elf: Buffer): Array<[string, string]> {
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  const is64 = elf[4] === 2;
  if (elf[5] !== 1) throw new Error('only little-endian modules are supported');
  const shoff = is64 ? Number(elf.readBigUInt64LE(0x28)) : elf.readUInt32LE(0x20);
  const shentsize = elf.readUInt16LE(is64 ? 0x3a : 0x2e);
  const shnum = elf.readUInt16LE(is64 ? 0x3c : 0x30);
  const shstrndx = elf.readUInt16LE(is64 ? 0x3e : 0x32);
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    return {
      name: elf.readUInt32LE(base),
      offset: is64 ? Number(elf.readBigUInt64LE(base + 24)) : elf.readUInt32LE(base + 16),
      size: is64 ? Number(elf.readBigUInt64LE(base + 32)) : elf.readUInt32LE(base + 20),
    };
  };
  const strtab = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameStart = strtab.offset + s.name;
    const name = elf.toString('latin1', nameStart, elf.indexOf(0, nameStart));
    if (name !== '.modinfo') continue;
    const out: Array<[string, string]> = [];
    for (const entry of elf.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) out.push([entry.slice(0, eq), entry.slice(eq + 1)]);
    }
    return out;
  }
  return [];
}

function listModules(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listModules(p, out);
    else if (e.name.endsWith('.ko')) out.push(p);
  }
  return out;
}

/**
 * Writes `<moduleDir>/modules.dep` the way depmod does (paths relative to moduleDir, each
 * module followed by its full dependency closure, nearest dependency first) from the
 * `depends=` field of every module. Used when the build host has no depmod.
 */
export function generateModulesDep(moduleDir: string): string {
  const byName = new Map<string, string>();
  const direct = new Map<string, string[]>();
  for (const file of listModules(join(moduleDir, 'kernel')).sort()) {
    const rel = relative(moduleDir, file);
    byName.set(moduleName(rel), rel);
    const dep = readModinfo(readFileSync(file)).find(([k]) => k === 'depends')?.[1] ?? '';
    direct.set(rel, dep.split(',').filter(Boolean));
  }
  const lines: string[] = [];
  for (const [rel, deps] of direct) {
    // depmod order: a module's dependencies, each before the ones it depends on.
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      const p = byName.get(name.replace(/-/g, '_'));
      if (!p || seen.has(p)) return;
      seen.add(p);
      for (const d of direct.get(p) ?? []) visit(d);
      order.push(p);
    };
    for (const d of deps) visit(d);
    lines.push(`${rel}:${order.length ? ' ' : ''}${order.reverse().join(' ')}`);
  }
  const text = lines.join('\n') + '\n';
  writeFileSync(join(moduleDir, 'modules.dep'), text);
  return text;
}

/** modules.dep as a map from module path to its listed dependencies. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    deps.set(
      line.slice(0, colon).trim(),
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return deps;
}

/** Names of modules built into the kernel (modules.builtin lists their would-be paths). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}

/**
 * The order to insmod `wanted` (module names) and everything they depend on: every module
 * comes after all of its dependencies, wanted modules keep their given order otherwise.
 * Built-in modules are skipped; an unknown module is an error.
 */
export function resolveLoadOrder(
  modulesDep: Map<string, string[]>,
  wanted: string[],
  builtin: Set<string> = new Set(),
): string[] {
  const byName = new Map<string, string>();
  for (const p of modulesDep.keys()) byName.set(moduleName(p), p);
  const order: string[] = [];
  const done = new Set<string>();
  const active = new Set<string>();
  const visit = (path: string) => {
    if (done.has(path)) return;
    if (active.has(path)) throw new Error(`module dependency cycle at ${path}`);
    active.add(path);
    // modules.dep lists the closure with the last entry loaded first; visiting it reversed
    // and recursively gives a valid order even for files that list only direct dependencies.
    for (const d of [...(modulesDep.get(path) ?? [])].reverse()) visit(d);
    active.delete(path);
    done.add(path);
    order.push(path);
  };
  for (const name of wanted) {
    const n = moduleName(name);
    const p = byName.get(n);
    if (!p) {
      if (builtin.has(n)) continue;
      throw new Error(`kernel module "${name}" not found in modules.dep`);
    }
    visit(p);
  }
  return order;
}

/** Total size of the given module files, for reports. */
export function modulesSize(moduleDir: string, paths: string[]): number {
  return paths.reduce((n, p) => n + statSync(join(moduleDir, p)).size, 0);
}
