// PostgreSQL and Redis as a fleet runs them: a kept PostgreSQL cluster in a folder (initdb as the
// postgres system user when root), started, stopped and started again with its data; a
// redis-server on loopback that answers and stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import pg from 'pg';
import { freePort, startPostgres } from '@raydesk/db/cluster';
import { startFleetServices } from './fleet-services.ts';
import { startRedis } from './redis-server.ts';

test('a kept PostgreSQL cluster keeps its data across a restart', async () => {
  const root = mkdtempSync(join(tmpdir(), 'raydesk-fleet-pg-'));
  const dir = join(root, 'postgres');
  try {
    const first = await startPostgres({ dir, port: await freePort(), keep: true });
    const client = new pg.Client({ connectionString: first.url });
    await client.connect();
    await client.query('CREATE TABLE marker (value text)');
    await client.query("INSERT INTO marker VALUES ('kept')");
    await client.end();
    await first.stop();
    const second = await startPostgres({ dir, port: await freePort(), keep: true });
    const again = new pg.Client({ connectionString: second.url });
    await again.connect();
    const { rows } = await again.query('SELECT value FROM marker');
    await again.end();
    await second.stop();
    assert.deepEqual(rows, [{ value: 'kept' }]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('redis-server starts on loopback, answers, and stops', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-fleet-redis-'));
  const redis = await startRedis({ dir, port: await freePort() });
  try {
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.set('raydesk:probe', 'pong');
    assert.equal(await client.get('raydesk:probe'), 'pong');
    client.destroy();
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.notEqual(redis.process.exitCode ?? redis.process.signalCode, null);
});

test('fleet services: PostgreSQL and Redis together, data under one folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-fleet-'));
  const services = await startFleetServices({
    dir,
    postgresPort: await freePort(),
    redisPort: await freePort(),
    keep: false,
  });
  try {
    const client = new pg.Client({ connectionString: services.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
    await client.end();
    assert.equal(rows[0]?.one, 1);
    const redis = createClient({ url: services.redisUrl });
    await redis.connect();
    assert.equal(await redis.ping(), 'PONG');
    redis.destroy();
  } finally {
    await services.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
