// Placement and liveness rules of the fleet (pure functions over registry rows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOST_OFFLINE_AFTER_MS, chooseHost, isLive, rankGateways, type HostRow } from './fleet.ts';

const now = new Date('2026-11-27T12:00:00Z');
const host = (id: string, fields: Partial<HostRow> = {}): HostRow => ({
  id,
  url: `http://127.0.0.1:1/${id}`,
  memoryBudgetMiB: 4096,
  memoryUsedMiB: 0,
  load: 0,
  standby: '',
  draining: false,
  lastHeartbeatAt: new Date(now.getTime() - 1000),
  ...fields,
});

test('a host is offline once its heartbeat is older than the limit', () => {
  assert.equal(isLive(host('a'), now), true);
  const stale = new Date(now.getTime() - HOST_OFFLINE_AFTER_MS - 1);
  assert.equal(isLive(host('a', { lastHeartbeatAt: stale }), now), false);
  assert.equal(isLive(host('a', { lastHeartbeatAt: null }), now), false);
  assert.ok(HOST_OFFLINE_AFTER_MS < 15_000, 'offline within 15 s');
});

test('most free memory wins, then the lower load', () => {
  const hosts = [
    host('a', { memoryUsedMiB: 2048 }),
    host('b', { memoryUsedMiB: 512, load: 0.9 }),
    host('c', { memoryUsedMiB: 512, load: 0.2 }),
  ];
  assert.equal(chooseHost(hosts, 'desktop', 256, now)?.id, 'c');
});

test('a host with a ready standby VM of the appliance is preferred', () => {
  const hosts = [host('a'), host('b', { memoryUsedMiB: 3000, standby: 'browser,desktop' })];
  assert.equal(chooseHost(hosts, 'desktop', 256, now)?.id, 'b');
  assert.equal(chooseHost(hosts, 'console', 256, now)?.id, 'a');
});

test('draining and offline hosts get no new VMs', () => {
  const stale = new Date(now.getTime() - 60_000);
  const hosts = [host('a', { draining: true }), host('b', { lastHeartbeatAt: stale })];
  assert.equal(chooseHost(hosts, 'desktop', 256, now), null);
  assert.equal(
    chooseHost([...hosts, host('c', { memoryUsedMiB: 4000 })], 'desktop', 256, now)?.id,
    'c',
  );
});

test('viewers get the least loaded live gateway; a silent one is skipped', () => {
  const gateway = (id: string, sessions: number, ageMs = 1000) => ({
    id,
    url: `http://127.0.0.1:1/${id}`,
    sessions,
    lastHeartbeatAt: new Date(now.getTime() - ageMs),
  });
  const ranked = rankGateways(
    [
      gateway('gw-1', 5),
      gateway('gw-2', 1),
      gateway('gw-3', 0, HOST_OFFLINE_AFTER_MS + 1),
      gateway('gw-4', 1),
    ],
    now,
  );
  assert.deepEqual(
    ranked.map((g) => g.id),
    ['gw-2', 'gw-4', 'gw-1'],
  );
});
