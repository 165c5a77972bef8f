// The control server on a real (VM-less) host: /metrics needs the service credential, and every
// request is checked against the contract before the host sees it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { HypervisorClient, HypervisorError } from '../api/client.ts';
import type { Result } from '../api/protocol.ts';
import { HostFiles } from './host-files.ts';
import { startEphemeralHypervisor, type RunningHypervisor } from './index.ts';

let hv: RunningHypervisor;
before(async () => {
  hv = await startEphemeralHypervisor({ standbyAppliances: [], idleSuspendSeconds: 0 });
});
after(async () => hv?.close());

test('/metrics answers 401 without the bearer, and with a wrong one', async () => {
  const anonymous = await fetch(`${hv.url}/metrics`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
  assert.doesNotMatch(await anonymous.text(), /raydesk_/);
  for (const authorization of [
    'Bearer wrong-secret',
    hv.config.secret,
    `Basic ${hv.config.secret}`,
  ]) {
    const res = await fetch(`${hv.url}/metrics`, { headers: { authorization } });
    assert.equal(res.status, 401, authorization.slice(0, 6));
  }
});

test('/metrics with the service credential as bearer lists the host metrics', async () => {
  const res = await fetch(`${hv.url}/metrics`, {
    headers: { authorization: `Bearer ${hv.config.secret}` },
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /raydesk_net_connections_total/);
  assert.match(text, /raydesk_hypervisor_process_cpu/);
});

/** A client that sends whatever it likes, as a confused or hostile one would. */
async function rawClient(): Promise<Socket> {
  const socket = io(hv.url, { auth: { secret: hv.config.secret }, transports: ['websocket'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

test('every call is answered by the contract: results, not_found, and bad_request for a bad request', async () => {
  const client = new HypervisorClient({ url: hv.url, secret: hv.config.secret });
  const raw = await rawClient();
  try {
    const info = await client.hostInfo();
    assert.equal(info.running, 0);
    assert.deepEqual(await client.list(), []);
    await assert.rejects(
      client.get('vm-00000000'),
      (error: unknown) => error instanceof HypervisorError && error.code === 'not_found',
    );
    for (const [call, request] of [
      ['domain:get', { id: '../../etc/passwd' }],
      ['domain:get', 'vm-00000000'],
      ['domain:create', { appliance: 'windows' }],
      ['domain:sched', { id: 'vm-00000000', weight: 0 }],
      ['domain:thumbnail', { id: 'vm-00000000', width: 10 ** 6 }],
      ['domain:screen', { id: 'vm-00000000', size: { width: 4096, height: 768 } }],
      ['domain:screen', { id: 'vm-00000000', size: { width: '1024; reboot', height: 768 } }],
      ['host:info', null],
    ] as const) {
      const result: Result<unknown> = await raw.timeout(5_000).emitWithAck(call, request);
      assert.equal(result.ok, false, call);
      if (!result.ok) assert.equal(result.error.code, 'bad_request', call);
    }
    const refreshed: Result<null> = await raw
      .timeout(5_000)
      .emitWithAck('display:refresh', { id: 'vm-00000000' });
    assert.equal(refreshed.ok, false, 'refresh without a watch');
  } finally {
    raw.disconnect();
    client.close();
  }
});

test('invalid input events and calls without a callback are dropped; the connection stays', async () => {
  const raw = await rawClient();
  try {
    raw.emit('input:key', { id: 'vm-00000000', code: 'KeyA' });
    raw.emit('input:pointer', { id: 'vm-00000000', x: -5, y: 'top', buttons: 99 });
    raw.emit('input:wheel', 'spin');
    raw.emit('domain:list', {});
    raw.emit('domain:destroy', { id: 'vm-00000000' });
    const result: Result<unknown[]> = await raw.timeout(5_000).emitWithAck('domain:list', {});
    assert.deepEqual(result, { ok: true, value: [] });
    assert.equal(raw.connected, true);
  } finally {
    raw.disconnect();
  }
});

test('resume of a domain the host does not know: not_found, also when its state file is bad', async () => {
  const client = new HypervisorClient({ url: hv.url, secret: hv.config.secret });
  const isNotFound = (pattern: RegExp) => (error: unknown) =>
    error instanceof HypervisorError && error.code === 'not_found' && pattern.test(error.message);
  try {
    await assert.rejects(client.resume('vm-00000001'), isNotFound(/^no domain vm-00000001$/));
    // A state file without a record, which is not a saved state at all.
    writeFileSync(new HostFiles(hv.config.dataDir).stateFile('vm-00000002'), 'not a state');
    await assert.rejects(client.resume('vm-00000002'), isNotFound(/did not restore/));
  } finally {
    client.close();
  }
});
