// Two display gateways of a fleet, in this process, on a real PostgreSQL (the registry) and a
// real Redis (the socket.io adapter), in front of one FakeHypervisor: each gateway registers and
// heartbeats its session count; a control viewer on one gateway is taken over by a viewer of the
// same VM on the other; an administrator's disconnect sent to either gateway ends a session the
// other holds; the session list of either shows both. A clean stop leaves the registry.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { io as connect } from 'socket.io-client';
import { createDb, type Db } from '@raydesk/db';
import { freePort } from '@raydesk/db/cluster';
import { deployMigrations } from '@raydesk/db/setup';
import { mintAttachToken } from '@raydesk/gateway/attach-token';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import type { SessionInfo } from '@raydesk/gateway/internal';
import { FakeHypervisor, Recorder, SECRETS, type ViewerClient } from '@raydesk/gateway/testing';
import { startFleetServices, type FleetServices } from '../scripts/lib/fleet-services.ts';
import { waitFor } from '@raydesk/common/testing';

describe('gateways of a fleet (PostgreSQL registry, Redis adapter)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-fleet-gw-'));
  let services: FleetServices;
  let db: Db;
  let hv: FakeHypervisor;
  const gateways: { id: string; gateway: Gateway; url: string }[] = [];
  const viewers: ViewerClient[] = [];

  before(async () => {
    services = await startFleetServices({
      dir,
      postgresPort: await freePort(),
      redisPort: await freePort(),
      keep: false,
    });
    deployMigrations(services.databaseUrl);
    db = createDb(services.databaseUrl);
    hv = new FakeHypervisor(SECRETS.hypervisor, 20);
    const hvUrl = await hv.listen();
    hv.addVm('vm-1');
    for (const id of ['gw-a', 'gw-b']) {
      const gateway = createGateway({
        config: {
          host: '127.0.0.1',
          port: 0,
          secret: SECRETS.gateway,
          attachTokenSecret: SECRETS.attach,
          hypervisorUrl: hvUrl,
          hypervisorSecret: SECRETS.hypervisor,
          portalInternalUrl: null,
          allowedOrigins: [],
          logLevel: 'silent',
          fleet: {
            id,
            internalUrl: null,
            databaseUrl: services.databaseUrl,
            redisUrl: services.redisUrl,
            heartbeatMs: 300,
          },
        },
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
        feedLingerMs: 200,
      });
      const { url } = await gateway.listen(0, '127.0.0.1');
      gateways.push({ id, gateway, url });
    }
  });

  after(async () => {
    for (const v of viewers) v.disconnect();
    for (const g of gateways) await g.gateway.close().catch(() => undefined);
    await hv?.close();
    await db?.$disconnect();
    await services?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function viewer(gatewayUrl: string, name: string, clientId = randomUUID()): ViewerClient {
    const socket = connect(gatewayUrl, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: (cb) =>
        void mintAttachToken(SECRETS.attach, {
          sub: `user-${name}`,
          vm: 'vm-1',
          mode: 'control',
          name,
          role: 'user',
        }).then((token) => cb({ token, clientId, protocol: 1 })),
    }) as ViewerClient;
    socket.rec = new Recorder();
    socket.onAny((event: string, value: unknown) => socket.rec.push(event, value));
    socket.on('disconnect', (reason) => socket.rec.push('disconnect', reason));
    viewers.push(socket);
    return socket;
  }

  const internal = (base: string, path: string, method = 'GET') =>
    fetch(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${SECRETS.gateway}` },
    });

  test('each gateway registers with its URL and heartbeats its session count', async () => {
    const rows = await db.gatewayNode.findMany({ orderBy: { id: 'asc' } });
    assert.deepEqual(
      rows.map((r) => [r.id, r.url]),
      gateways.map((g) => [g.id, g.url]),
    );
    const first = viewer(gateways[0]!.url, 'Ada');
    await first.rec.next('session:ready', 10_000);
    await waitFor(
      'the session count in the registry',
      async () => (await db.gatewayNode.findUnique({ where: { id: 'gw-a' } }))?.sessions === 1,
    );
    first.disconnect();
  });

  test('a control viewer on the other gateway takes over; the first is told who', async () => {
    const first = viewer(gateways[0]!.url, 'Ada');
    await first.rec.next('session:ready', 10_000);
    const second = viewer(gateways[1]!.url, 'Grace');
    await second.rec.next('session:ready', 10_000);
    const moved = await first.rec.next<{ reason: string; by?: string }>('session:moved', 10_000);
    assert.equal(moved.reason, 'opened-elsewhere');
    assert.equal(moved.by, 'Grace');
    await first.rec.next('disconnect', 10_000);
    assert.equal(second.connected, true);
    second.disconnect();
  });

  test('the same viewer (clientId) resuming through the other gateway is not a takeover', async () => {
    const clientId = randomUUID();
    const first = viewer(gateways[0]!.url, 'Ada', clientId);
    await first.rec.next('session:ready', 10_000);
    const again = viewer(gateways[1]!.url, 'Ada', clientId);
    await again.rec.next('session:ready', 10_000);
    await first.rec.next('disconnect', 10_000);
    await assert.rejects(first.rec.next('session:moved', 200));
    again.disconnect();
  });

  test('an administrator disconnect sent to one gateway ends the session the other holds', async () => {
    const watched = viewer(gateways[1]!.url, 'Ada');
    await watched.rec.next('session:ready', 10_000);
    const listed = await waitFor('both gateways in the session list', async () => {
      const res = await internal(gateways[0]!.url, '/internal/sessions');
      const body = (await res.json()) as { sessions: SessionInfo[] };
      return body.sessions.find((s) => s.gateway === 'gw-b' && s.name === 'Ada') ?? null;
    });
    const res = await internal(
      gateways[0]!.url,
      `/internal/sessions/${listed.id}/disconnect`,
      'POST',
    );
    assert.equal(res.status, 200);
    const closed = await watched.rec.next<{ reason: string }>('session:closed', 10_000);
    assert.equal(closed.reason, 'admin-disconnect');
    await watched.rec.next('disconnect', 10_000);
    const unknown = await internal(
      gateways[0]!.url,
      '/internal/sessions/no-such-session/disconnect',
      'POST',
    );
    assert.equal(unknown.status, 404);
  });

  test('a clean stop removes the gateway from the registry', async () => {
    const last = gateways.pop()!;
    await last.gateway.close();
    const rows = await db.gatewayNode.findMany();
    assert.deepEqual(
      rows.map((r) => r.id),
      ['gw-a'],
    );
  });
});
