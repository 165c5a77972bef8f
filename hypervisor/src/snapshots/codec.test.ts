import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readSavedState, readStateFile, writeSavedState, writeStateFile } from './codec.ts';

const dir = mkdtempSync(join(tmpdir(), 'raydesk-codec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a state file (guest memory) is written 0600 and reads back', async () => {
  const path = join(dir, 'vm-1.state');
  const state = new Uint8Array(64 * 1024).fill(7);
  state[100] = 42;
  await writeStateFile(
    path,
    {
      domainId: 'vm-1',
      name: 'codec-test',
      appliance: 'console',
      recipeHash: 'abc',
      kind: 'personal',
      owner: null,
      memoryMiB: 64,
      vgaMemoryMiB: 2,
      savedAt: new Date().toISOString(),
    },
    state.buffer,
  );
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const read = await readStateFile(path);
  assert.equal(read.header.domainId, 'vm-1');
  assert.equal(read.header.encoding, 'zstd');
  assert.equal(new Uint8Array(read.state)[100], 42);
});

test('a golden delta reads back as written, and names its golden in the header', async () => {
  const path = join(dir, 'vm-2.state');
  const deviceState = new Uint8Array(1001).fill(3); // not a multiple of 4: the pages are aligned
  const data = new Uint8Array(2 * 4096).fill(5);
  data[4096] = 6;
  const bytes = await writeSavedState(
    path,
    {
      domainId: 'vm-2',
      name: 'codec-test',
      appliance: 'desktop',
      recipeHash: 'abc',
      imageBuildId: 'build-1',
      kind: 'personal',
      owner: 'u',
      memoryMiB: 256,
      vgaMemoryMiB: 16,
      savedAt: new Date().toISOString(),
    },
    {
      kind: 'delta',
      goldenId: 'build-1@2026-11-28T00:00:00Z',
      deviceState: deviceState.buffer,
      pages: Uint32Array.of(12, 70000),
      data,
    },
  );
  assert.equal(statSync(path).size, bytes);
  const { header, saved } = await readSavedState(path);
  assert.equal(header.goldenId, 'build-1@2026-11-28T00:00:00Z');
  assert.equal(header.encoding, 'raw', 'pages that are mostly not empty: stored as they are');
  assert.equal(saved.kind, 'delta');
  if (saved.kind !== 'delta') return;
  assert.deepEqual(new Uint8Array(saved.deviceState), deviceState);
  assert.deepEqual([...saved.pages], [12, 70000]);
  assert.deepEqual(saved.data, data);
  await assert.rejects(readStateFile(path), /holds a delta, not a whole state/);
});
