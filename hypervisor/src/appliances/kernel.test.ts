import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_DIR, recipeHash } from './cache.ts';
import { kernelKey, parseConfigFragment, unappliedOptions } from './kernel.ts';
import { RECIPES } from './recipes.ts';

test('a fragment parses to assignments, skipping comments and blank lines', () => {
  assert.deepEqual(parseConfigFragment('# why\n\nCONFIG_A=y\n CONFIG_B=n \nCONFIG_HZ=100\n'), [
    { name: 'CONFIG_A', value: 'y' },
    { name: 'CONFIG_B', value: 'n' },
    { name: 'CONFIG_HZ', value: '100' },
  ]);
  assert.throws(() => parseConfigFragment('CONFIG_A y'), /cannot parse line "CONFIG_A y"/);
});

test('options Kconfig dropped are reported, "=n" is satisfied by "not set"', () => {
  const fragment = 'CONFIG_A=y\nCONFIG_B=n\nCONFIG_C=n\nCONFIG_D=y\nCONFIG_HZ=100\n';
  const dotConfig = [
    'CONFIG_A=y',
    '# CONFIG_B is not set',
    'CONFIG_C=y',
    '# CONFIG_D is not set',
    'CONFIG_HZ=250',
  ].join('\n');
  assert.deepEqual(unappliedOptions(fragment, dotConfig), [
    'CONFIG_C=n (got y)',
    'CONFIG_D=y (got not set)',
    'CONFIG_HZ=100 (got 250)',
  ]);
});

test('the guest kernel is tickless and every appliance shares it', () => {
  const config = readFileSync(join(GUEST_DIR, RECIPES.desktop.kernel.config), 'utf8');
  const options = new Map(parseConfigFragment(config).map((o) => [o.name, o.value]));
  assert.equal(options.get('CONFIG_NO_HZ_IDLE'), 'y');
  assert.equal(options.get('CONFIG_HZ_PERIODIC'), 'n');
  assert.equal(options.get('CONFIG_MODULES'), 'n');
  const keys = new Set(Object.values(RECIPES).map((r) => kernelKey(r)));
  assert.equal(keys.size, 1);
});

test('editing the kernel config changes the kernel key and every image hash', () => {
  const recipe = RECIPES.console;
  const edited = (p: string) =>
    p === recipe.kernel.config
      ? Buffer.from(readFileSync(join(GUEST_DIR, p), 'utf8') + 'CONFIG_EXTRA=y\n')
      : readFileSync(join(GUEST_DIR, p));
  assert.notEqual(kernelKey(recipe), kernelKey(recipe, edited));
  assert.notEqual(recipeHash({ recipe }), recipeHash({ recipe, readGuest: edited }));
});

test("the guest kernel drives v86's Sound Blaster 16, at the resources v86 gives it", () => {
  const config = readFileSync(join(GUEST_DIR, RECIPES.desktop.kernel.config), 'utf8');
  const options = new Map(parseConfigFragment(config).map((o) => [o.name, o.value]));
  for (const name of ['ISA', 'ISA_DMA_API', 'SOUND', 'SND', 'SND_PCM', 'SND_ISA', 'SND_SB16'])
    assert.equal(options.get(`CONFIG_${name}`), 'y', name);
  // Nothing probes ISA cards: the boot line names v86's port, IRQ and DMA channels.
  for (const recipe of [RECIPES.desktop, RECIPES.browser]) {
    assert.match(
      recipe.cmdline,
      /snd_sb16\.port=0x220 snd_sb16\.irq=5 snd_sb16\.dma8=1 snd_sb16\.dma16=5/,
    );
    assert.ok(recipe.packages.includes('alsa-utils'), `${recipe.name} has speaker-test`);
  }
});
