import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { Admission } from './admission.ts';
import { HostError } from './errors.ts';

const desktop = { id: 'vm-new', name: 'desk-alice', memoryMiB: 256, vgaMemoryMiB: 8 };
const isCode = (code: string) => (error: unknown) =>
  error instanceof HostError && error.code === code;

/** A host with `used` MiB of running domains and `reserve` MiB of standby domains. */
function hostWith(used: number, reserve: number) {
  const state = { used, reserve, releases: 0, exceptIds: [] as Array<string | undefined> };
  const admission = new Admission({
    budgetMiB: 1024,
    memoryInUse: (exceptId) => {
      state.exceptIds.push(exceptId);
      return state.used + state.reserve;
    },
    releaseReserve: async () => {
      state.releases++;
      state.reserve = 0;
    },
  });
  return { admission, state };
}

test('a domain that fits is admitted without touching the reserve', async () => {
  const { admission, state } = hostWith(512, 128);
  await admission.admitMemory(desktop);
  assert.equal(state.releases, 0);
  assert.equal(state.exceptIds[0], 'vm-new', 'the domain itself is left out of what is in use');
});

test('standby domains are let go when a real domain needs their memory', async () => {
  const { admission, state } = hostWith(512, 400);
  await admission.admitMemory(desktop);
  assert.equal(state.releases, 1);
  assert.equal(state.reserve, 0);
});

test('a standby domain never pushes out another standby domain', async () => {
  const { admission, state } = hostWith(512, 400);
  await assert.rejects(
    admission.admitMemory(desktop, { mayReleaseReserve: false }),
    isCode('insufficient_memory'),
  );
  assert.equal(state.releases, 0);
});

test('past the budget the error says what it needs and what is free', async () => {
  const { admission } = hostWith(900, 0);
  await assert.rejects(admission.admitMemory(desktop), (error: unknown) => {
    assert.ok(isCode('insufficient_memory')(error));
    assert.match(
      (error as Error).message,
      /desk-alice: it needs 264 MiB, 124 MiB of the 1024 MiB budget is free/,
    );
    return true;
  });
});

test('a restart counts the domain once: exceptId leaves its old entry out', async () => {
  const { admission, state } = hostWith(0, 0);
  await admission.admitMemory(desktop, { exceptId: 'vm-old' });
  assert.equal(state.exceptIds[0], 'vm-old');
});

test('a save needs room for the state file on the real file system', async () => {
  const { admission } = hostWith(0, 0);
  await admission.admitToDisk(desktop, tmpdir());
  const huge = { ...desktop, memoryMiB: 2 ** 40 };
  await assert.rejects(admission.admitToDisk(huge, tmpdir()), (error: unknown) => {
    assert.ok(isCode('insufficient_disk')(error));
    assert.match((error as Error).message, /not enough disk space in .* to save desk-alice/);
    return true;
  });
});
