import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATEWAY_SOCKET_PATH } from '../../portal-server/gateway-path.mjs';
import { gatewayEndpoint } from './gateway.ts';

test('browsers reach the gateway on the portal’s own origin by default', () => {
  assert.deepEqual(gatewayEndpoint(undefined), { url: '/', path: GATEWAY_SOCKET_PATH });
  assert.deepEqual(gatewayEndpoint(''), { url: '/', path: GATEWAY_SOCKET_PATH });
});

test('GATEWAY_PUBLIC_URL: its origin, and its path as a prefix of /socket.io', () => {
  assert.deepEqual(gatewayEndpoint('https://gw.example.org'), {
    url: 'https://gw.example.org',
    path: '/socket.io',
  });
  assert.deepEqual(gatewayEndpoint('http://10.0.0.5:7421/'), {
    url: 'http://10.0.0.5:7421',
    path: '/socket.io',
  });
  assert.deepEqual(gatewayEndpoint('https://desk.example.org/gw/'), {
    url: 'https://desk.example.org',
    path: '/gw/socket.io',
  });
  assert.deepEqual(gatewayEndpoint('wss://gw.example.org:8443/a/b'), {
    url: 'wss://gw.example.org:8443',
    path: '/a/b/socket.io',
  });
});
