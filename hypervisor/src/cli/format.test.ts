import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DomainInfo } from '../api/protocol.ts';
import { formatDomainTable, formatDuration } from './format.ts';

test('durations read as minutes and hours', () => {
  assert.equal(formatDuration(65_000), '1m05s');
  assert.equal(formatDuration(2 * 3600_000 + 5 * 60_000), '2h05m');
});

test('the domain table has one aligned row per domain', () => {
  const info: DomainInfo = {
    id: 'vm-1',
    name: 'alice',
    appliance: 'desktop',
    kind: 'personal',
    owner: 'alice',
    state: 'running',
    memoryMiB: 256,
    vgaMemoryMiB: 8,
    cpuPercent: 12.34,
    mips: 100,
    createdAt: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    uptimeMs: 61_000,
    watchers: 1,
    guestReady: true,
    restartPending: false,
    error: null,
  };
  const lines = formatDomainTable([info]).split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^vm-1\s+alice\s+desktop\s+running\s+264\s+12\.3\s+1m01s$/);
  assert.equal(lines[0]!.indexOf('NAME'), lines[1]!.indexOf('alice'));
});
