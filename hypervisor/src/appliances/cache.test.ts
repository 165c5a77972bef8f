import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILDER_SOURCES,
  GUEST_DIR,
  applianceCacheDir,
  recipeHash,
  stableStringify,
} from './cache.ts';
import { RECIPES } from './recipes.ts';
import { busyboxApplets } from './busybox.ts';
import { expandGlob } from './rootfs.ts';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const guest = (p: string) => readFileSync(join(GUEST_DIR, p));

test('recipe hash is stable and 16 hex digits', () => {
  const a = recipeHash({ recipe: RECIPES.desktop });
  const b = recipeHash({ recipe: structuredClone(RECIPES.desktop) });
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.equal(a, b);
  assert.notEqual(a, recipeHash({ recipe: RECIPES.console }));
});

test('the hash changes with the recipe, a guest file or the builder source', () => {
  const base = recipeHash({ recipe: RECIPES.desktop });
  assert.notEqual(base, recipeHash({ recipe: { ...RECIPES.desktop, memoryMiB: 512 } }));
  assert.notEqual(
    base,
    recipeHash({ recipe: { ...RECIPES.desktop, packages: [...RECIPES.desktop.packages, 'x'] } }),
  );
  const edited = (p: string) =>
    p === 'desktop/jwmrc' ? Buffer.concat([guest(p), Buffer.from(' ')]) : guest(p);
  assert.notEqual(base, recipeHash({ recipe: RECIPES.desktop, readGuest: edited }));
  // An unrelated guest file (browser's) does not affect the desktop hash.
  const otherEdited = (p: string) => (p === 'browser/welcome.html' ? Buffer.from('x') : guest(p));
  assert.equal(base, recipeHash({ recipe: RECIPES.desktop, readGuest: otherEdited }));
  assert.ok(BUILDER_SOURCES.includes('build.ts'));
  const src = (f: string) => readFileSync(join(import.meta.dirname, f));
  const builderEdited = (f: string) =>
    f === 'build.ts' ? Buffer.concat([src(f), Buffer.from('//')]) : src(f);
  assert.notEqual(base, recipeHash({ recipe: RECIPES.desktop, readBuilder: builderEdited }));
});

test('stableStringify ignores key order', () => {
  assert.equal(
    stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] }),
    stableStringify({ a: [1, { c: 3, d: 2 }], b: 1 }),
  );
});

test('cache dir honours RAYDESK_CACHE_DIR', () => {
  assert.equal(applianceCacheDir({ RAYDESK_CACHE_DIR: '/srv/rd' }), '/srv/rd/appliances');
  assert.match(applianceCacheDir({}), /\.cache\/raydesk\/appliances$/);
  assert.equal(applianceCacheDir({ RAYDESK_CACHE_DIR: '~/.cache/raydesk' }), applianceCacheDir({}));
});

test('every guest file named by a recipe exists', () => {
  for (const r of Object.values(RECIPES))
    for (const f of r.files) assert.ok(guest(f.src).length > 0, f.src);
});

test('busybox applet table is read from the binary', () => {
  const fake = Buffer.concat([
    Buffer.from('junk\0more', 'latin1'),
    Buffer.from('\0[\0[[\0ash\0cat\0sh\0zcat\0\0', 'latin1'),
    Buffer.from('tail', 'latin1'),
  ]);
  assert.deepEqual(busyboxApplets(fake), ['[', '[[', 'ash', 'cat', 'sh', 'zcat']);
  assert.throws(() => busyboxApplets(Buffer.from('nothing here')), /not found/);
});

test('prune globs match within one path segment', () => {
  const root = mkdtempSync(join(tmpdir(), 'glob-'));
  for (const d of ['usr/lib/dri', 'usr/share/X11/locale/en_US.UTF-8', 'usr/share/X11/locale/C'])
    mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'usr/lib/libLLVM-15.so.1'), '');
  writeFileSync(join(root, 'usr/share/X11/locale/en_US.UTF-8/Compose'), '');
  assert.deepEqual(expandGlob(root, '/usr/lib/libLLVM-*'), ['usr/lib/libLLVM-15.so.1']);
  assert.deepEqual(expandGlob(root, '/usr/share/X11/locale/*/Compose'), [
    'usr/share/X11/locale/en_US.UTF-8/Compose',
  ]);
  assert.deepEqual(expandGlob(root, '/usr/lib/dri'), ['usr/lib/dri']);
  assert.deepEqual(expandGlob(root, '/nope/*'), []);
});
