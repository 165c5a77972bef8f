import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BuildsUnderWay } from './builds-under-way.ts';

test('callers of one key share a build under way; a finished or failed one runs again', async () => {
  const builds = new BuildsUnderWay<string>();
  let started = 0;
  let finish: (value: string) => void = () => undefined;
  const start = () => {
    started++;
    return new Promise<string>((resolve) => (finish = resolve));
  };
  const first = builds.run('kernel', start);
  const second = builds.run('kernel', start);
  assert.equal(started, 1);
  finish('built');
  assert.deepEqual(await Promise.all([first, second]), ['built', 'built']);

  const failing = builds.run('kernel', () => Promise.reject(new Error('make failed')));
  await assert.rejects(failing, /make failed/);
  const again = builds.run('kernel', start);
  assert.equal(started, 2, 'a build after a failure starts anew');
  finish('rebuilt');
  assert.equal(await again, 'rebuilt');
  assert.equal(await builds.run('other', () => Promise.resolve('own')), 'own');
});
