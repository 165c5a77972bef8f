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
