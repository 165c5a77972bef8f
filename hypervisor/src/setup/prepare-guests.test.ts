import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressReporter } from './prepare-guests.ts';

test('in a log, progress repeats are thinned but every step start and result is written', () => {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const task = new ProgressReporter(false).task('image console', 6);
    task.update(0, 'kernel (linux-source-6.1)…');
    for (let n = 1; n <= 50; n++) task.update(0, `kernel (linux-source-6.1: ${n} files compiled)…`);
    task.update(1, 'kernel done in 600.0s');
    task.update(1, 'packages (2 packages)…');
    task.update(4, '7.3 MiB');
    task.update(4, '7.3 MiB, cold boot 9s');
  } finally {
    process.stderr.write = write;
  }
  const written = lines.map((l) => l.replace(/ \(\d+s\)\n$/, ''));
  assert.deepEqual(written, [
    '[image console] kernel (linux-source-6.1)…',
    '[image console] kernel done in 600.0s',
    '[image console] packages (2 packages)…',
    '[image console] 7.3 MiB',
    '[image console] 7.3 MiB, cold boot 9s',
  ]);
});
