// Egress attacks from a disposable VM, against a real hypervisor with the default policy (no
// allowlists): one console VM of kind `disposable`, resumed from the golden snapshot, for the
// whole file. Inside the guest, busybox wget and nslookup aim at the host itself, private,
// CGNAT, link-local and metadata addresses and names that resolve to them; on the VM's own
// relay (its worker's wisp connection to the switch, with its token) the forms no guest TCP
// stack can produce: IPv6 loopback and ULA, IPv4-mapped and other embeddings, odd IPv4
// notations and host names. Each attack asserts the switch denied it and that the host's
// servers (on 127.0.0.1 and ::1) never saw a request.
//
//   npx tsx --test security/egress.attack.test.ts
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pino from 'pino';
import { HypervisorClient, type DomainInfo } from '@raydesk/hypervisor/api';
import { loadConfig } from '@raydesk/hypervisor/config';
import { startHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { internalsOf } from '@raydesk/hypervisor/testing';
import { attackArea } from './lib/attacks.ts';
import { WispProbe } from './lib/wisp-probe.ts';

const attack = attackArea('egress');
const encoder = new TextEncoder();

let hypervisor: RunningHypervisor;
let hv: HypervisorClient;
let dataDir = '';
let vm: DomainInfo;
let relay: { relayUrl: string; dnsUrl: string } | null = null;
let probe: WispProbe;
/** Requests that reached the host's test servers: any one is a successful attack. */
const hits: string[] = [];
const servers: Server[] = [];
let port = 0;
let port6 = 0;

async function serve(host: string): Promise<number> {
  const server = createServer((req, res) => {
    hits.push(`${host} ${req.url}`);
    res.end('you reached the host\n');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

before(async () => {
  port = await serve('127.0.0.1');
  port6 = await serve('::1');
  dataDir = mkdtempSync(join(tmpdir(), 'raydesk-egress-'));
  const base = loadConfig({
    ...process.env,
    HYPERVISOR_SECRET: `egress-${randomBytes(8).toString('hex')}`,
  });
  hypervisor = await startHypervisor(
    {
      ...base,
      host: '127.0.0.1',
      port: 0,
      dataDir,
      memoryBudgetMiB: 1024,
      standbyAppliances: [],
      idleSuspendSeconds: 0,
      // The shipped default: nothing allow-listed for any kind.
      network: {
        ...base.network,
        allowAll: [],
        allowByKind: { personal: [], disposable: [], system: [] },
      },
    },
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  );
  // Keep the relay URL and token the host hands the VM's worker, to speak as that worker.
  const { network } = internalsOf(hypervisor.host);
  const attach = network.attach.bind(network);
  network.attach = (id, kindOf) => (relay = attach(id, kindOf));
  hv = new HypervisorClient({
    url: hypervisor.url,
    secret: hypervisor.config.secret,
    timeoutMs: 600_000,
  });
  await hv.connected();
  vm = await hv.create({ appliance: 'console', name: 'egress-target', kind: 'disposable' });
  assert.equal(await hypervisor.host.get(vm.id).guestRefreshed, true, 'guest agent answered');
  assert.ok(relay, "the VM's relay URL");
  probe = new WispProbe(relay.relayUrl);
  await probe.opened;
});

after(async () => {
  probe?.close();
  hv?.close();
  await hypervisor?.close();
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Runs a shell line on the guest's serial console; its output and exit status. */
async function run(command: string): Promise<{ output: string; status: number }> {
  const domain = hypervisor.host.get(vm.id);
  const tag = randomBytes(3).toString('hex');
  domain.serialInput(
    0,
    encoder.encode(`echo begin-${tag}; ${command}; echo "end-${tag} status=$?"\n`),
  );
  const match = await domain.console.waitFor(
    new RegExp(`\\nbegin-${tag}\\r?\\n([\\s\\S]*?)end-${tag} status=(\\d+)`),
    90_000,
  );
  return { output: match[1]!, status: Number(match[2]) };
}

async function counters() {
  return (await hv.net(vm.id)).counters;
}

/** The switch's newest denial for this VM. */
async function lastDenial() {
  return (await hv.net(vm.id)).recentDenials[0];
}

/** From inside the guest: wget to host:port fails, the switch denied exactly that, nothing got through. */
async function guestFetchDenied(
  target: string,
  targetPort: number,
  expected: { destination: string; reason: RegExp },
): Promise<void> {
  const before = await counters();
  const hitsBefore = hits.length;
  const r = await run(`wget -q -O - http://${target}:${targetPort}/from-guest`);
  assert.notEqual(r.status, 0, `wget succeeded: ${r.output}`);
  assert.doesNotMatch(r.output, /you reached the host/);
  const after = await counters();
  assert.equal(after.connectionsOpened, before.connectionsOpened, 'no connection was opened');
  assert.ok(
    after.connectionsDenied > before.connectionsDenied,
    `the switch denied it (the guest said: ${r.output.trim()})`,
  );
  const denial = await lastDenial();
  assert.equal(denial?.destination, expected.destination);
  assert.match(denial!.reason, expected.reason);
  assert.equal(hits.length, hitsBefore, 'the host server saw nothing');
}

/** On the VM's relay: a stream to host:port is closed unanswered and recorded as denied. */
async function relayDenied(host: string, targetPort: number, reason: RegExp): Promise<void> {
  const before = await counters();
  const hitsBefore = hits.length;
  const r = await probe.tryConnect(host, targetPort);
  assert.equal(r.data, '', `the destination answered: ${r.data.slice(0, 60)}`);
  const after = await counters();
  assert.equal(after.connectionsOpened, before.connectionsOpened, 'no connection was opened');
  assert.ok(after.connectionsDenied > before.connectionsDenied, 'the switch denied it');
  assert.match((await lastDenial())!.reason, reason);
  assert.equal(hits.length, hitsBefore, 'the host servers saw nothing');
}

// ---- From inside the guest -------------------------------------------------------------------

attack('the guest fetches from the host itself through its router address', async () => {
  await guestFetchDenied('192.168.86.1', port, {
    destination: `127.0.0.1:${port}`,
    reason: /loopback/,
  });
});

attack("the guest reaches the host's own DNS server (a private address)", async () => {
  // Whatever resolver this machine uses, it is not for guests.
  await guestFetchDenied('10.255.255.53', 53, {
    destination: '10.255.255.53:53',
    reason: /private/,
  });
});

for (const [label, address, targetPort, reason] of [
  ['10/8', '10.0.0.1', 80, /private/],
  ['172.16/12 (low end)', '172.16.0.1', 80, /private/],
  ['172.16/12 (high end)', '172.31.255.254', 443, /private/],
  ['192.168/16 (another segment)', '192.168.1.1', 80, /private/],
  ['CGNAT 100.64/10', '100.64.0.1', 80, /carrier-grade-nat/],
  ['link-local 169.254/16', '169.254.1.1', 443, /link-local/],
  ['the cloud metadata service 169.254.169.254', '169.254.169.254', 80, /link-local/],
  ['reserved 240/4', '240.0.0.1', 80, /reserved/],
] as const) {
  attack(`the guest connects to ${label}`, async () => {
    await guestFetchDenied(address, targetPort, {
      destination: `${address}:${targetPort}`,
      reason,
    });
  });
}

attack('a disposable guest reaches a public address on a port other than 80/443', async () => {
  await guestFetchDenied('1.1.1.1', 22, {
    destination: '1.1.1.1:22',
    reason: /port 22 is not open to disposable VMs/,
  });
});

attack(
  'the guest resolves host names that point at the host (localhost, its own name)',
  async () => {
    const before = await counters();
    for (const name of ['localhost', hostname()]) {
      const r = await run(`nslookup ${name} 192.168.86.1`);
      // Only the answer part: the first lines name the server asked (192.168.86.1).
      const answer = r.output.split('Name:').slice(1).join('\n');
      assert.doesNotMatch(answer, /Address:\s*(127\.|10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\.)/);
    }
    const after = await counters();
    assert.ok(after.dnsQueries > before.dnsQueries, 'the queries went to the host resolver');
    // localhost always resolves on the host, and its answer was filtered out for this VM.
    assert.ok(after.dnsAnswersFiltered > before.dnsAnswersFiltered, 'answers were filtered');
  },
);

attack("the guest fetches the host by the host's own name", async () => {
  const hitsBefore = hits.length;
  const r = await run(`wget -q -O - http://${hostname()}:${port}/by-name`);
  assert.notEqual(r.status, 0, r.output);
  assert.equal(hits.length, hitsBefore);
  assert.equal((await counters()).connectionsOpened, 0);
});

// ---- On the VM's own relay (a guest that took over its worker) -------------------------------

// `v6` aims at the host's server on ::1, `v4` at the one on 127.0.0.1: where a leak would land.
for (const [label, host, reason, server] of [
  ['IPv6 loopback ::1', '::1', /loopback/, 'v6'],
  ['IPv6 loopback in brackets', '[::1]', /loopback/, 'v6'],
  ['IPv4-mapped loopback ::ffff:127.0.0.1', '::ffff:127.0.0.1', /loopback/, 'v4'],
  ['IPv4-mapped loopback in hex ::ffff:7f00:1', '::ffff:7f00:1', /loopback/, 'v4'],
  ['IPv4-compatible loopback ::127.0.0.1', '::127.0.0.1', /loopback/, 'v4'],
  ['6to4 of loopback 2002:7f00:1::1', '2002:7f00:1::1', /loopback/, 'v4'],
  ['IPv6 unique-local fd00::1', 'fd00::1', /unique-local/, 'v6'],
  ['IPv6 unique-local fc00::1', 'fc00::1', /unique-local/, 'v6'],
  ['IPv6 link-local fe80::1', 'fe80::1', /link-local/, 'v6'],
  ['IPv6 unspecified ::', '::', /unspecified/, 'v6'],
  ['IPv4-mapped metadata ::ffff:169.254.169.254', '::ffff:169.254.169.254', /link-local/, 'v4'],
  ['NAT64 of the metadata address 64:ff9b::a9fe:a9fe', '64:ff9b::a9fe:a9fe', /link-local/, 'v4'],
  ['IPv4-mapped private ::ffff:10.0.0.1', '::ffff:10.0.0.1', /private/, 'v4'],
  ['loopback 127.0.0.1 (no guest can say it)', '127.0.0.1', /loopback/, 'v4'],
  ['unspecified 0.0.0.0 (the host on Linux)', '0.0.0.0', /unspecified/, 'v4'],
  ['loopback as one decimal number 2130706433', '2130706433', /loopback|unusual/, 'v4'],
  ['loopback in hex 0x7f000001', '0x7f000001', /loopback|unusual/, 'v4'],
  ['loopback in octal 0177.0.0.1', '0177.0.0.1', /loopback|unusual/, 'v4'],
  ['loopback shortened 127.1', '127.1', /loopback|unusual/, 'v4'],
  ['the name localhost', 'localhost', /loopback/, 'v4'],
] as const) {
  attack(`the relay connects to ${label}`, async () => {
    await relayDenied(host, server === 'v6' ? port6 : port, reason);
  });
}

attack("the relay connects to the host's own name", async () => {
  const hitsBefore = hits.length;
  const r = await probe.tryConnect(hostname(), port);
  assert.equal(r.data, '');
  assert.equal(hits.length, hitsBefore);
  assert.equal((await counters()).connectionsOpened, 0);
});

attack('DNS over the relay: names of the host resolve to nothing for this VM', async () => {
  const dnsUrl: string = relay!.dnsUrl;
  for (const name of ['localhost', hostname()]) {
    const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
    const query = Uint8Array.from([
      0x12,
      0x34,
      1,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      ...labels,
      0,
      0,
      1,
      0,
      1,
    ]);
    const res: Response = await fetch(dnsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: query,
    });
    const answer: Uint8Array = new Uint8Array(await res.arrayBuffer());
    const answers: number = (answer[6]! << 8) | answer[7]!;
    assert.equal(answers, 0, `${name} got ${answers} answers`);
  }
});

attack("another VM's relay path, or a guessed token, is refused", async () => {
  const url = new URL(relay!.relayUrl.replace(/^wisp:/, 'ws:'));
  const [, , domain] = url.pathname.split('/');
  const guessed = `${url.origin}/wisp/${domain}/${'A'.repeat(32)}/`;
  const other = `${url.origin}/wisp/vm-someone-else/${url.pathname.split('/')[3]}/`;
  for (const target of [guessed, other]) {
    const p = new WispProbe(target);
    await assert.rejects(p.opened, /Unexpected server response: 403/);
  }
});
