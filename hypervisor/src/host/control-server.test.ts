// The control server's HTTP side on a real (VM-less) host: /metrics needs the service credential.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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
