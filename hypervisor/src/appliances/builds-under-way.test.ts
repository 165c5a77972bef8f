import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BuildsUnderWay } from './builds-under-way.ts';

const root = mkdtempSync(join(tmpdir(), 'raydesk-builds-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A cache entry: `built` is what the cache holds, `finish` ends the build under way. */
function entry(name: string) {
  const state = {
    lockPath: join(root, name),
    built: null as string | null,
    started: 0,
    waited: 0,
    finish: (_value: string) => undefined as void,
  };
  const build = () => {
    state.started++;
    return new Promise<string>((resolve) => {
      state.finish = (value) => {
        state.built = value;
        resolve(value);
      };
    });
  };
  const spec = () => ({
    lockPath: state.lockPath,
    find: () => state.built,
    build,
    onWait: () => void state.waited++,
  });
  return { state, spec };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

test('callers in one process share a build under way; a failed one runs again', async () => {
  const builds = new BuildsUnderWay<string>();
  const { state, spec } = entry('kernel');
  const first = builds.run('kernel', spec());
  const second = builds.run('kernel', spec());
  await settle();
  assert.equal(state.started, 1);
  state.finish('built');
  assert.deepEqual(await Promise.all([first, second]), ['built', 'built']);
  assert.equal(state.waited, 0, 'no other process held the lock');

  await assert.rejects(
    builds.run('kernel', {
      ...spec(),
      force: true,
      build: () => Promise.reject(new Error('make failed')),
    }),
    /make failed/,
  );
  const again = builds.run('kernel', { ...spec(), force: true });
  await settle();
  assert.equal(state.started, 2, 'a build after a failure starts anew');
  state.finish('rebuilt');
  assert.equal(await again, 'rebuilt');
});

test('another process building the same entry is waited for, and its result is used', async () => {
  // Two instances stand for two processes: only the lock file is shared between them.
  const { state, spec } = entry('console-abc');
  const first = new BuildsUnderWay<string>().run('console-abc', spec());
  await settle();
  const second = new BuildsUnderWay<string>().run('console-abc', spec());
  await settle();
  assert.equal(state.started, 1, 'the second did not build beside the first');
  assert.equal(state.waited, 1, 'the second said it is waiting');
  state.finish('image of the first');
  assert.equal(await first, 'image of the first');
  assert.equal(await second, 'image of the first', 'the second found the first one’s image');
  assert.equal(state.started, 1);
});

test('a lock its holder stopped refreshing (killed) is taken over', async () => {
  const { state, spec } = entry('desktop-def');
  // What a killed builder leaves: the lock directory, no longer refreshed.
  mkdirSync(`${state.lockPath}.lock`);
  const old = new Date(Date.now() - 120_000);
  utimesSync(`${state.lockPath}.lock`, old, old);
  const build = new BuildsUnderWay<string>().run('desktop-def', spec());
  await settle();
  assert.equal(state.started, 1);
  state.finish('rebuilt after a crash');
  assert.equal(await build, 'rebuilt after a crash');
});
