import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateModulesDep,
  moduleName,
  parseModulesBuiltin,
  parseModulesDep,
  readModinfo,
  resolveLoadOrder,
} from './modules.ts';

// A depmod-style excerpt (closure listed, last entry loaded first).
const DEP = `kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/drivers/gpu/drm/tiny/bochs.ko: kernel/drivers/gpu/drm/drm_vram_helper.ko kernel/drivers/gpu/drm/drm_ttm_helper.ko kernel/drivers/gpu/drm/ttm/ttm.ko kernel/drivers/gpu/drm/drm_kms_helper.ko kernel/drivers/gpu/drm/drm.ko
kernel/drivers/gpu/drm/drm_vram_helper.ko: kernel/drivers/gpu/drm/drm_ttm_helper.ko kernel/drivers/gpu/drm/ttm/ttm.ko kernel/drivers/gpu/drm/drm_kms_helper.ko kernel/drivers/gpu/drm/drm.ko
kernel/drivers/gpu/drm/drm_ttm_helper.ko: kernel/drivers/gpu/drm/ttm/ttm.ko kernel/drivers/gpu/drm/drm.ko
kernel/drivers/gpu/drm/ttm/ttm.ko: kernel/drivers/gpu/drm/drm.ko
kernel/drivers/gpu/drm/drm_kms_helper.ko: kernel/drivers/gpu/drm/drm.ko
kernel/drivers/gpu/drm/drm.ko:
kernel/drivers/input/mouse/psmouse.ko:
`;

test('module names normalise dashes and suffixes', () => {
  assert.equal(moduleName('kernel/lib/crc-t10dif.ko'), 'crc_t10dif');
  assert.equal(moduleName('kernel/fs/ext4/ext4.ko.xz'), 'ext4');
});

test('every module is loaded after all its dependencies', () => {
  const dep = parseModulesDep(DEP);
  const order = resolveLoadOrder(dep, ['crc32c_generic', 'ext4', 'bochs', 'psmouse']);
  assert.deepEqual(order.slice(0, 5), [
    'kernel/crypto/crc32c_generic.ko',
    'kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/mbcache.ko',
    'kernel/lib/crc16.ko',
    'kernel/fs/ext4/ext4.ko',
  ]);
  for (const [mod, deps] of dep) {
    if (!order.includes(mod)) continue;
    for (const d of deps) assert.ok(order.indexOf(d) < order.indexOf(mod), `${d} before ${mod}`);
  }
  assert.equal(new Set(order).size, order.length, 'no module twice');
  assert.equal(order.at(-1), 'kernel/drivers/input/mouse/psmouse.ko');
  assert.equal(order.filter((m) => m.includes('/gpu/')).length, 6);
});

test('built-in modules are skipped and unknown ones are errors', () => {
  const dep = parseModulesDep(DEP);
  const builtin = parseModulesBuiltin('kernel/drivers/input/evdev.ko\n');
  assert.deepEqual(resolveLoadOrder(dep, ['evdev'], builtin), []);
  assert.throws(() => resolveLoadOrder(dep, ['nosuchmod'], builtin), /not found/);
});

test('a dependency cycle is reported', () => {
  const dep = parseModulesDep('kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n');
  assert.throws(() => resolveLoadOrder(dep, ['a']), /cycle/);
});

/** A minimal ELF32 relocatable with a .modinfo section. */
function fakeModule(modinfo: string): Buffer {
  const shstr = Buffer.from('\0.modinfo\0.shstrtab\0', 'latin1');
  const info = Buffer.from(modinfo, 'latin1');
  const hdr = Buffer.alloc(52);
  const infoOff = 52;
  const strOff = infoOff + info.length;
  const shoff = strOff + shstr.length;
  hdr.writeUInt32BE(0x7f454c46, 0);
  hdr[4] = 1; // ELFCLASS32
  hdr[5] = 1; // little endian
  hdr.writeUInt32LE(shoff, 0x20);
  hdr.writeUInt16LE(40, 0x2e);
  hdr.writeUInt16LE(3, 0x30);
  hdr.writeUInt16LE(2, 0x32);
  const sh = Buffer.alloc(40 * 3);
  sh.writeUInt32LE(1, 40); // .modinfo name offset
  sh.writeUInt32LE(infoOff, 40 + 16);
  sh.writeUInt32LE(info.length, 40 + 20);
  sh.writeUInt32LE(10, 80); // .shstrtab
  sh.writeUInt32LE(strOff, 80 + 16);
  sh.writeUInt32LE(shstr.length, 80 + 20);
  return Buffer.concat([hdr, info, shstr, sh]);
}

test('.modinfo is read from ELF and turned into a depmod-style modules.dep', () => {
  const mi = readModinfo(fakeModule('license=GPL\0depends=jbd2,mbcache\0name=ext4\0'));
  assert.deepEqual(mi, [
    ['license', 'GPL'],
    ['depends', 'jbd2,mbcache'],
    ['name', 'ext4'],
  ]);

  const dir = mkdtempSync(join(tmpdir(), 'mods-'));
  const put = (p: string, info: string) => {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), fakeModule(info));
  };
  put('kernel/fs/ext4/ext4.ko', 'depends=jbd2,mbcache,crc16\0name=ext4\0');
  put('kernel/fs/jbd2/jbd2.ko', 'depends=\0name=jbd2\0');
  put('kernel/fs/mbcache.ko', 'depends=\0name=mbcache\0');
  put('kernel/lib/crc16.ko', 'depends=\0name=crc16\0');
  put('kernel/x/top.ko', 'depends=ext4\0name=top\0');
  generateModulesDep(dir);
  const dep = parseModulesDep(readFileSync(join(dir, 'modules.dep'), 'utf8'));
  // The closure is listed: top needs ext4 and, through it, the rest.
  assert.equal(dep.get('kernel/x/top.ko')!.length, 4);
  assert.equal(dep.get('kernel/x/top.ko')![0], 'kernel/fs/ext4/ext4.ko');
  const order = resolveLoadOrder(dep, ['top']);
  assert.equal(order.at(-1), 'kernel/x/top.ko');
  assert.equal(order.at(-2), 'kernel/fs/ext4/ext4.ko');
  assert.equal(order.length, 5);
});
