import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_JIT_MAX_PAGES, setJitMaxPages } from './jit-config.ts';
import { v86WasmExports } from './v86-wasm-fixture.ts';

test("v86's JIT takes the page limit, which starts at its own default of 3", () => {
  const exports = v86WasmExports();
  const get = exports.get_jit_config as (index: number) => number;
  assert.equal(get(1), 3);
  assert.equal(setJitMaxPages({ wm: { exports } }, DEFAULT_JIT_MAX_PAGES), true);
  assert.equal(get(1), 1);
  assert.equal(setJitMaxPages({ wm: { exports } }, 2), true);
  assert.equal(get(1), 2);
});

test('a v86 build without JIT settings is left alone', () => {
  assert.equal(setJitMaxPages({ wm: { exports: {} } }, 1), false);
});

test('V86_JIT_MAX_PAGES: one page unless set, and a clear error outside 1-8', async () => {
  const { loadConfig } = await import('../config.ts');
  const env = { HYPERVISOR_SECRET: 'a-test-secret' };
  assert.equal(loadConfig(env).jitMaxPages, DEFAULT_JIT_MAX_PAGES);
  assert.equal(loadConfig({ ...env, V86_JIT_MAX_PAGES: '3' }).jitMaxPages, 3);
  for (const bad of ['0', '9', 'two']) {
    assert.throws(
      () => loadConfig({ ...env, V86_JIT_MAX_PAGES: bad }),
      /invalid hypervisor configuration:\n {2}V86_JIT_MAX_PAGES/,
      bad,
    );
  }
});
