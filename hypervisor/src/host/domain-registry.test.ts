import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { DomainSpec } from './domain.ts';
import { DomainRegistry } from './domain-registry.ts';
import { HostFiles } from './host-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'registry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function registryIn(name: string): { registry: DomainRegistry; files: HostFiles } {
  const files = new HostFiles(join(dir, name));
  files.prepare();
  return { registry: new DomainRegistry(files), files };
}

const spec: DomainSpec = {
  id: 'vm-0011aabb',
  name: 'desk-alice',
  appliance: 'desktop',
  kind: 'personal',
  owner: 'user-1',
  memoryMiB: 256,
  vgaMemoryMiB: 8,
};

test('records round-trip, are replaced on save, and go on remove', () => {
  const { registry } = registryIn('a');
  const createdAt = new Date('2026-11-24T00:00:00.000Z');
  registry.save(spec, createdAt, null);
  registry.save(spec, createdAt, '/data/states/vm-0011aabb.state');
  const { records, problems } = registry.load();
  assert.deepEqual(problems, []);
  assert.deepEqual(records, [
    {
      spec,
      createdAt: createdAt.toISOString(),
      savedStateFile: '/data/states/vm-0011aabb.state',
      inUse: false,
    },
  ]);
  registry.remove(spec.id);
  assert.deepEqual(registry.load().records, []);
});

test('whether a domain is in use is recorded; records written before that field read as not', () => {
  const { registry, files } = registryIn('d');
  registry.save(spec, new Date(), null, true);
  assert.equal(registry.load().records[0]!.inUse, true);
  registry.save(spec, new Date(), null, false);
  assert.equal(registry.load().records[0]!.inUse, false);
  const older: Record<string, unknown> = { ...registry.load().records[0]! };
  delete older.inUse;
  writeFileSync(files.recordFile(spec.id), JSON.stringify(older));
  assert.equal(registry.load().records[0]!.inUse, false);
});

test('a damaged or foreign record is reported and skipped, not fatal', () => {
  const { registry, files } = registryIn('b');
  registry.save(spec, new Date(), null);
  writeFileSync(files.recordFile('vm-broken'), '{"spec": ');
  writeFileSync(files.recordFile('vm-other'), JSON.stringify({ spec: { id: '../etc' } }));
  const { records, problems } = registry.load();
  assert.equal(records.length, 1);
  assert.equal(problems.length, 2);
});

test('ids that could escape the directory are refused', () => {
  const { registry } = registryIn('c');
  assert.throws(() => registry.save({ ...spec, id: '../escape' }, new Date(), null));
});
