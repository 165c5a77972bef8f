import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readStateFile, writeStateFile } from './codec.ts';

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
  assert.equal(new Uint8Array(read.state)[100], 42);
});
