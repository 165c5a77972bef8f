import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DomainState } from '../api/protocol.ts';
import { DomainTable, type TableDomain } from './domain-table.ts';
import { HostError } from './errors.ts';

function domain(id: string, state: DomainState, memoryMiB = 64, vgaMemoryMiB = 8): TableDomain {
  return { id, state, spec: { memoryMiB, vgaMemoryMiB } };
}

test('get finds a live domain; a missing or destroyed one is not_found', () => {
  const table = new DomainTable<TableDomain>();
  const running = domain('vm-00000001', 'running');
  table.add(running);
  table.add(domain('vm-00000002', 'stopped'));
  assert.equal(table.get('vm-00000001'), running);
  for (const id of ['vm-00000002', 'vm-00000003']) {
    assert.throws(
      () => table.get(id),
      (error: unknown) => error instanceof HostError && error.code === 'not_found',
    );
  }
  assert.equal(table.find('vm-00000002')?.state, 'stopped', 'find sees destroyed domains');
});

test('memory counts the domains whose worker holds RAM, optionally leaving one out', () => {
  const table = new DomainTable<TableDomain>();
  table.add(domain('vm-a', 'running', 256, 8));
  table.add(domain('vm-b', 'paused', 128, 8));
  table.add(domain('vm-c', 'starting', 64, 8));
  table.add(domain('vm-d', 'saving', 32, 8));
  table.add(domain('vm-e', 'saved', 512, 8));
  table.add(domain('vm-f', 'crashed', 512, 8));
  table.add(domain('vm-g', 'stopped', 512, 8));
  assert.equal(table.memoryInUse(), 264 + 136 + 72 + 40);
  assert.equal(table.memoryInUse('vm-a'), 136 + 72 + 40);
  assert.deepEqual(table.counts(), { domains: 6, running: 4 });
});

test('remove leaves a newer domain under the same id alone', () => {
  const table = new DomainTable<TableDomain>();
  const old = domain('vm-00000001', 'crashed');
  const newer = domain('vm-00000001', 'running');
  table.add(old);
  table.add(newer);
  assert.equal(table.holds(old), false);
  table.remove(old);
  assert.equal(table.get('vm-00000001'), newer);
  table.remove(newer);
  assert.equal(table.has('vm-00000001'), false);
});

test('new ids are vm- and 8 hex digits, never one the table has', () => {
  const table = new DomainTable<TableDomain>();
  for (let i = 0; i < 200; i++) {
    const id = table.newId();
    assert.match(id, /^vm-[0-9a-f]{8}$/);
    assert.equal(table.has(id), false);
    table.add(domain(id, 'running'));
  }
  assert.equal(table.all().length, 200);
});
