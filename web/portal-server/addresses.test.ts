import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describePortal,
  isLoopbackBind,
  portalAddresses,
  reachableHostName,
} from './addresses.mjs';

const eth0 = {
  address: '192.0.2.10',
  netmask: '255.255.255.0',
  family: 'IPv4' as const,
  mac: '00:00:00:00:00:01',
  internal: false,
  cidr: '192.0.2.10/24',
};
const lo = { ...eth0, address: '127.0.0.1', internal: true, cidr: '127.0.0.1/8' };

test('people are told the machine name, not localhost', () => {
  const a = portalAddresses({ port: 3000, tls: false, hostname: 'deskhost' });
  assert.deepEqual(a, {
    url: 'http://deskhost:3000',
    local: 'http://localhost:3000',
    fromOtherComputers: true,
  });
  assert.equal(
    describePortal(a),
    'open http://deskhost:3000 from any computer that reaches this machine by that name; ' +
      'on this machine also http://localhost:3000',
  );
});

test('HTTPS on 443 drops the port; PORTAL_PUBLIC_URL wins', () => {
  assert.equal(portalAddresses({ port: 443, tls: true, hostname: 'desk' }).url, 'https://desk');
  assert.equal(
    portalAddresses({ port: 8443, tls: true, hostname: 'desk' }).url,
    'https://desk:8443',
  );
  assert.equal(
    portalAddresses({
      port: 3000,
      tls: false,
      publicUrl: 'https://desk.example.org/',
      hostname: 'x',
    }).url,
    'https://desk.example.org',
  );
});

test('a specific bind address is what others use; a loopback bind is said to be local only', () => {
  assert.equal(
    portalAddresses({ port: 3000, tls: false, bind: '192.0.2.10', hostname: 'desk' }).url,
    'http://192.0.2.10:3000',
  );
  assert.equal(
    portalAddresses({ port: 3000, tls: false, bind: '::', hostname: 'desk' }).url,
    'http://desk:3000',
  );
  const local = portalAddresses({ port: 3000, tls: false, bind: '127.0.0.1', hostname: 'desk' });
  assert.equal(local.fromOtherComputers, false);
  assert.match(describePortal(local), /this machine only/);
  for (const bind of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost'])
    assert.ok(isLoopbackBind(bind), bind);
  for (const bind of [undefined, '0.0.0.0', '::', '192.0.2.10']) assert.ok(!isLoopbackBind(bind));
});

test('a host named localhost is announced by its external address', () => {
  assert.equal(reachableHostName('localhost', { lo: [lo], eth0: [eth0] }), '192.0.2.10');
  assert.equal(reachableHostName('localhost', { lo: [lo] }), 'localhost');
  assert.equal(reachableHostName('desk', { lo: [lo] }), 'desk');
});
