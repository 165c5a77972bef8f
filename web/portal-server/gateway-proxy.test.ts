// The portal's gateway proxy against the real gateway (and a real, empty hypervisor behind it):
// what it forwards, what it never forwards, and how it fails when the gateway is gone.
//   npx tsx --test web/portal-server/gateway-proxy.test.ts
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { mintAttachToken } from '@raydesk/gateway/attach-token';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { GATEWAY_SOCKET_PATH } from './gateway-path.mjs';
import { createGatewayResolver } from './fleet-gateways.mjs';
import {
  createGatewayProxy,
  gatewayRoute,
  gatewayTargetPath,
  isGatewayArea,
  type GatewayProxy,
} from './gateway-proxy.mjs';

const SECRET = 'proxy-test-gateway-secret-0123';
const ATTACH_SECRET = 'proxy-test-attach-secret-0123456789abcdef';
const silent = pino({ level: 'silent' });

describe('gatewayTargetPath', () => {
  test('maps the socket.io path, with its query, to the gateway', () => {
    assert.equal(gatewayTargetPath('/gateway/socket.io/'), '/socket.io/');
    assert.equal(
      gatewayTargetPath('/gateway/socket.io/?EIO=4&transport=polling&t=abc'),
      '/socket.io/?EIO=4&transport=polling&t=abc',
    );
    assert.equal(
      gatewayTargetPath('/gateway/./socket.io/?EIO=4&transport=websocket'),
      '/socket.io/?EIO=4&transport=websocket',
    );
  });

  test('nothing else reaches the gateway, however the path is written', () => {
    for (const path of [
      '/gateway/internal/sessions',
      '/gateway/metrics',
      '/gateway/healthz',
      '/gateway/socket.io',
      '/gateway/socket.io/x',
      '/gateway/socket.io/../internal/sessions',
      '/gateway/socket.io/%2e%2e/internal/sessions',
      '/gateway/socket.io/..%2finternal/sessions',
      '/gateway/socket.io/?x=1/../../metrics#',
      '/socket.io/',
      '//evil.example/gateway/socket.io/',
      '/\\evil.example/gateway/socket.io/',
      'http://evil.example/gateway/socket.io/',
      '/GATEWAY/socket.io/',
      '',
      undefined,
    ]) {
      const target = gatewayTargetPath(path);
      assert.ok(target === null || target.startsWith('/socket.io/?'), `${path} -> ${target}`);
      if (!String(path).includes('?x=1')) assert.equal(target, null, String(path));
    }
  });

  test('the gateway area is /gateway and below, nothing else', () => {
    assert.equal(GATEWAY_SOCKET_PATH, '/gateway/socket.io');
    for (const path of ['/gateway', '/gateway/', '/gateway/metrics', '/x/../gateway/healthz'])
      assert.ok(isGatewayArea(path), path);
    for (const path of ['/', '/gateways', '/login?next=/gateway/', '/api/gateway'])
      assert.ok(!isGatewayArea(path), path);
  });
});

describe('gatewayRoute (a fleet: /gateway/<id>/socket.io)', () => {
  test('names the gateway and keeps the query; the one-gateway path names none', () => {
    assert.deepEqual(gatewayRoute('/gateway/gw-1/socket.io/?EIO=4&transport=websocket'), {
      gatewayId: 'gw-1',
      path: '/socket.io/?EIO=4&transport=websocket',
    });
    assert.deepEqual(gatewayRoute('/gateway/socket.io/'), { gatewayId: null, path: '/socket.io/' });
  });

  test('no other path, and no id outside the registry rule', () => {
    for (const path of [
      '/gateway/gw-1/socket.io',
      '/gateway/gw-1/internal/sessions',
      '/gateway/gw-1/socket.io/../../internal/sessions',
      '/gateway/gw%2F1/socket.io/',
      '/gateway/gw.1/socket.io/',
      '/gateway/../gw-1/socket.io/',
      `/gateway/${'x'.repeat(65)}/socket.io/`,
      '//evil.example/gateway/gw-1/socket.io/',
    ])
      assert.equal(gatewayRoute(path), null, path);
  });
});

interface RawAnswer {
  status: number;
  body: string;
}

/** A request with its path sent exactly as written (fetch would normalise it). */
function raw(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
    req.end();
  });
}

/** A portal-like server: the proxy first, 404 for the rest (where Next would answer). */
async function portalWith(proxy: GatewayProxy): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (proxy.handleRequest(req, res)) return;
    res.writeHead(404).end('portal page');
  });
  server.on('upgrade', (req, socket, head) => proxy.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function viewer(
  port: number,
  token: string,
  options: { transports: ('websocket' | 'polling')[]; headers?: Record<string, string> },
): ClientSocket {
  return io(`http://127.0.0.1:${port}`, {
    path: GATEWAY_SOCKET_PATH,
    transports: options.transports,
    extraHeaders: options.headers,
    reconnection: false,
    forceNew: true,
    timeout: 20_000,
    auth: { token, clientId: randomUUID(), protocol: 1 },
  });
}

function firstOf(
  socket: ClientSocket,
  events: string[],
): Promise<{ event: string; value: unknown }> {
  return new Promise((resolve) => {
    for (const event of events) socket.once(event, (value: unknown) => resolve({ event, value }));
  });
}

describe('the proxy in front of the real gateway', () => {
  let hypervisor: RunningHypervisor;
  let gateway: Gateway;
  let gatewayPort: number;
  let proxy: GatewayProxy;
  let portal: { server: Server; port: number };
  const connections: { address: string; cookie: string | undefined; auth: unknown }[] = [];

  const token = () =>
    mintAttachToken(ATTACH_SECRET, {
      sub: 'user-1',
      vm: 'vm-not-there',
      mode: 'control',
      name: 'Ada',
      role: 'user',
    });

  before(async () => {
    hypervisor = await startEphemeralHypervisor();
    gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: SECRET,
        attachTokenSecret: ATTACH_SECRET,
        hypervisorUrl: hypervisor.url,
        hypervisorSecret: hypervisor.config.secret,
        portalInternalUrl: null,
        allowedOrigins: [],
        logLevel: 'silent',
      },
      logger: silent,
    });
    gateway.io.on('connection', (socket) =>
      connections.push({
        address: socket.handshake.address,
        cookie: socket.request.headers.cookie,
        auth: socket.request.headers.authorization,
      }),
    );
    gatewayPort = (await gateway.listen(0, '127.0.0.1')).port;
    proxy = createGatewayProxy({ target: `http://127.0.0.1:${gatewayPort}`, log: silent });
    portal = await portalWith(proxy);
  });

  after(async () => {
    proxy?.close();
    if (portal) await closeServer(portal.server);
    await gateway?.close();
    await hypervisor?.close();
  });

  test("the gateway's own endpoints answer directly but never through the portal", async () => {
    const bearer = { authorization: `Bearer ${SECRET}` };
    assert.equal((await raw(gatewayPort, '/internal/sessions', bearer)).status, 200);
    assert.equal((await raw(gatewayPort, '/metrics', bearer)).status, 200);
    assert.equal((await raw(gatewayPort, '/healthz')).status, 200);
    for (const path of [
      '/gateway/internal/sessions',
      '/gateway/metrics',
      '/gateway/healthz',
      '/gateway/socket.io/../internal/sessions',
      '/gateway/socket.io/%2e%2e/metrics',
      '/gateway/socket.io/..%2F..%2Fmetrics',
      '/gateway/../gateway/internal/sessions',
      '/gateway',
    ]) {
      const answer = await raw(portal.port, path, bearer);
      assert.equal(answer.status, 404, `${path}: ${answer.status}`);
      assert.ok(!answer.body.includes('sessions') && !answer.body.includes('# HELP'), path);
    }
    // Paths outside /gateway/ are the portal's own (here: its stand-in 404 page).
    assert.equal((await raw(portal.port, '/internal/sessions', bearer)).body, 'portal page');
  });

  test('an engine.io long-poll handshake goes through', async () => {
    const answer = await raw(portal.port, `${GATEWAY_SOCKET_PATH}/?EIO=4&transport=polling`);
    assert.equal(answer.status, 200);
    assert.match(answer.body, /^0\{"sid":"[^"]+"/);
  });

  for (const transports of [['websocket'], ['polling']] as const) {
    test(`socket.io over ${transports[0]} reaches the gateway, with the user's address and no portal cookies`, async () => {
      const before = connections.length;
      const client = viewer(portal.port, await token(), {
        transports: [...transports],
        headers: { cookie: 'rd_access=secret-portal-cookie', authorization: 'Bearer nope' },
      });
      const outcome = await firstOf(client, ['connect', 'connect_error']);
      client.disconnect();
      assert.equal(outcome.event, 'connect', JSON.stringify(outcome.value));
      const seen = connections[before];
      assert.ok(seen, 'the gateway saw the connection');
      assert.match(seen.address, /^(::ffff:)?127\.0\.0\.1$/);
      assert.equal(seen.cookie, undefined);
      assert.equal(seen.auth, undefined);
    });
  }

  test('a forwarded address a trusted proxy set is what the gateway records', async () => {
    const before = connections.length;
    const client = viewer(portal.port, await token(), {
      transports: ['websocket'],
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    const outcome = await firstOf(client, ['connect', 'connect_error']);
    client.disconnect();
    assert.equal(outcome.event, 'connect');
    assert.equal(connections[before]?.address, '203.0.113.7');
  });

  test("the gateway's refusal reaches the browser as socket.io's", async () => {
    const forged = await mintAttachToken('some-other-secret-0123456789abcdefghij', {
      sub: 'user-1',
      vm: 'vm-not-there',
      mode: 'control',
      name: 'Mallory',
      role: 'admin',
    });
    const client = viewer(portal.port, forged, { transports: ['websocket'] });
    const outcome = await firstOf(client, ['connect', 'connect_error']);
    client.disconnect();
    assert.equal(outcome.event, 'connect_error');
    assert.equal((outcome.value as Error).message, 'unauthorized');
  });

  test('other WebSocket upgrades are refused', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: portal.port,
        path: '/gateway/internal/sessions',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
        },
      });
      req.on('response', (res) => resolve(String(res.statusCode)));
      req.on('upgrade', () => resolve('upgraded'));
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer, '404');
  });
});

describe('when the gateway is gone', () => {
  test('a gateway that refuses connections: a quick 502 and a clean WebSocket failure', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const proxy = createGatewayProxy({ target: `http://127.0.0.1:${deadPort}`, log: silent });
    const portal = await portalWith(proxy);
    try {
      const poll = await raw(portal.port, `${GATEWAY_SOCKET_PATH}/?EIO=4&transport=polling`);
      assert.equal(poll.status, 502);
      assert.match(poll.body, /gateway_unavailable/);
      const client = viewer(portal.port, 'any', { transports: ['websocket'] });
      const outcome = await firstOf(client, ['connect', 'connect_error']);
      client.disconnect();
      assert.equal(outcome.event, 'connect_error');
      // The portal is still there.
      assert.equal((await raw(portal.port, '/anything')).body, 'portal page');
    } finally {
      proxy.close();
      await closeServer(portal.server);
    }
  });

  test('a gateway that accepts and never answers: the upgrade fails after the timeout', async () => {
    const held: Socket[] = [];
    const silentGateway = createNetServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silentGateway.listen(0, '127.0.0.1', resolve));
    const port = (silentGateway.address() as AddressInfo).port;
    const proxy = createGatewayProxy({
      target: `http://127.0.0.1:${port}`,
      log: silent,
      upgradeTimeoutMs: 500,
    });
    const portal = await portalWith(proxy);
    try {
      const client = viewer(portal.port, 'any', { transports: ['websocket'] });
      const outcome = await firstOf(client, ['connect', 'connect_error']);
      client.disconnect();
      assert.equal(outcome.event, 'connect_error');
    } finally {
      proxy.close();
      await closeServer(portal.server);
      for (const socket of held) socket.destroy();
      silentGateway.close();
    }
  });

  test('an open viewer socket closes when the gateway process dies', async () => {
    const hypervisor = await startEphemeralHypervisor();
    const gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: SECRET,
        attachTokenSecret: ATTACH_SECRET,
        hypervisorUrl: hypervisor.url,
        hypervisorSecret: hypervisor.config.secret,
        portalInternalUrl: null,
        allowedOrigins: [],
        logLevel: 'silent',
      },
      logger: silent,
    });
    const gatewaySockets: Socket[] = [];
    gateway.http.on('connection', (socket: Socket) => gatewaySockets.push(socket));
    const { port } = await gateway.listen(0, '127.0.0.1');
    const proxy = createGatewayProxy({ target: `http://127.0.0.1:${port}`, log: silent });
    const portal = await portalWith(proxy);
    try {
      const token = await mintAttachToken(ATTACH_SECRET, {
        sub: 'user-1',
        vm: 'vm-not-there',
        mode: 'control',
        name: 'Ada',
        role: 'user',
      });
      const client = viewer(portal.port, token, { transports: ['websocket'] });
      assert.equal((await firstOf(client, ['connect', 'connect_error'])).event, 'connect');
      // As after kill -9: the gateway's connections drop without a socket.io goodbye.
      const gone = firstOf(client, ['disconnect']);
      for (const socket of gatewaySockets) socket.destroy();
      const { value } = await gone;
      assert.equal(value, 'transport close');
      client.disconnect();
    } finally {
      proxy.close();
      await closeServer(portal.server);
      await gateway.close();
      await hypervisor.close();
    }
  });
});

describe('a fleet: the proxy routes by gateway id through the registry', () => {
  let hypervisor: RunningHypervisor;
  const gateways: Gateway[] = [];
  const seenBy: string[] = [];
  let registry: Server;
  let registryPort = 0;
  let proxy: GatewayProxy;
  let portal: { server: Server; port: number };
  const registered: { id: string; url: string }[] = [];
  let lookups = 0;

  before(async () => {
    hypervisor = await startEphemeralHypervisor();
    for (const id of ['gw-1', 'gw-2']) {
      const gateway = createGateway({
        config: {
          host: '127.0.0.1',
          port: 0,
          secret: SECRET,
          attachTokenSecret: ATTACH_SECRET,
          hypervisorUrl: hypervisor.url,
          hypervisorSecret: hypervisor.config.secret,
          portalInternalUrl: null,
          allowedOrigins: [],
          logLevel: 'silent',
        },
        logger: silent,
      });
      gateway.io.on('connection', () => seenBy.push(id));
      const { url } = await gateway.listen(0, '127.0.0.1');
      gateways.push(gateway);
      registered.push({ id, url });
    }
    // The portal's /api/internal/gateways, as the Next app answers it (bearer GATEWAY_SECRET).
    registry = createServer((req, res) => {
      lookups++;
      const ok = req.headers.authorization === `Bearer ${SECRET}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { gateways: registered } : { error: 'unauthenticated' }));
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    registryPort = (registry.address() as AddressInfo).port;
    proxy = createGatewayProxy({
      target: registered[0]!.url,
      log: silent,
      resolveGateway: createGatewayResolver({
        portalUrl: `http://127.0.0.1:${registryPort}`,
        secret: SECRET,
      }),
    });
    portal = await portalWith(proxy);
  });

  after(async () => {
    proxy?.close();
    if (portal) await closeServer(portal.server);
    if (registry) await closeServer(registry);
    for (const gateway of gateways) await gateway.close();
    await hypervisor?.close();
  });

  const token = () =>
    mintAttachToken(ATTACH_SECRET, {
      sub: 'user-1',
      vm: 'vm-not-there',
      mode: 'control',
      name: 'Ada',
      role: 'user',
    });

  for (const id of ['gw-2', 'gw-1']) {
    test(`/gateway/${id}/socket.io reaches ${id}`, async () => {
      const before = seenBy.length;
      const client = io(`http://127.0.0.1:${portal.port}`, {
        path: `/gateway/${id}/socket.io`,
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        auth: { token: await token(), clientId: randomUUID(), protocol: 1 },
      });
      const outcome = await firstOf(client, ['connect', 'connect_error']);
      client.disconnect();
      assert.equal(outcome.event, 'connect', JSON.stringify(outcome.value));
      assert.deepEqual(seenBy.slice(before), [id]);
    });
  }

  test('an id the registry does not list: 404 for long-polls and WebSockets', async () => {
    const poll = await raw(portal.port, '/gateway/gw-9/socket.io/?EIO=4&transport=polling');
    assert.equal(poll.status, 404);
    assert.match(poll.body, /No such gateway/);
    const client = io(`http://127.0.0.1:${portal.port}`, {
      path: '/gateway/gw-9/socket.io',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: await token(), clientId: randomUUID(), protocol: 1 },
    });
    const outcome = await firstOf(client, ['connect', 'connect_error']);
    client.disconnect();
    assert.equal(outcome.event, 'connect_error');
  });

  test('a gateway that left the registry is not reached once the list is looked up again', async () => {
    const gone = registered.pop()!;
    // The list is kept 2 s (a burst of viewers costs one lookup).
    await new Promise((r) => setTimeout(r, 2_100));
    const before = lookups;
    const poll = await raw(portal.port, `/gateway/${gone.id}/socket.io/?EIO=4&transport=polling`);
    assert.equal(poll.status, 404);
    assert.ok(lookups > before, 'an id not in the cached list is looked up again');
    registered.push(gone);
  });
});
