// The virtual network end to end: console VMs (resumed from the golden snapshot) fetch a page
// from an HTTP server on the host with busybox wget, through the guest's virtio-net NIC, v86's
// fake network in the worker and the host's wisp switch. A VM whose kind allow-lists the server
// gets the page; a disposable VM with the default policy does not, and the denial shows
// inside the guest, in the daemon's log, in `vm net` and in the counters.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { HypervisorClient } from '../src/api/index.ts';
import { REPO_ROOT } from '@raydesk/common/node';
import { loadConfig } from '../src/config.ts';
import { startHypervisor, type RunningHypervisor } from '../src/host/index.ts';
import { parseAllowlist } from '../src/network/policy.ts';
import { sleep } from './harness.ts';

const encoder = new TextEncoder();

describe('virtual network on a real hypervisor', () => {
  const marker = `raydesk-net-${randomBytes(4).toString('hex')}`;
  const logLines: Array<{ msg: string; domain?: string; destination?: string; reason?: string }> =
    [];
  let web: Server;
  let webPort: number;
  let hv: RunningHypervisor;
  let client: HypervisorClient;
  let dataDir: string;

  before(async () => {
    web = createServer((req, res) => {
      if (req.url === '/browser') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(
          '<!doctype html><body style="background:#12ab34;margin:0">' +
            `<h1 style="color:#fff">${marker}</h1><div style="height:2000px"></div></body>`,
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${marker} ${req.url}\n`);
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as AddressInfo).port;
    dataDir = mkdtempSync(join(tmpdir(), 'raydesk-net-'));
    const base = loadConfig({ ...process.env, HYPERVISOR_SECRET: `net-test-${process.pid}` });
    const log = pino(
      { level: 'info' },
      {
        write: (line: string) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]),
      },
    );
    hv = await startHypervisor(
      {
        ...base,
        host: '127.0.0.1',
        port: 0,
        dataDir,
        memoryBudgetMiB: 1024,
        standbyAppliances: [],
        idleSuspendSeconds: 0,
        network: {
          ...base.network,
          // Only system VMs may reach the test server (the host's loopback, port webPort).
          allowAll: [],
          allowByKind: {
            personal: [],
            disposable: [],
            system: parseAllowlist(`127.0.0.1:${webPort}`),
          },
        },
      },
      log,
    );
    client = new HypervisorClient({
      url: hv.url,
      secret: hv.config.secret,
      timeoutMs: 10 * 60_000,
    });
    await client.connected();
  });
  after(async () => {
    client?.close();
    await hv?.close();
    await new Promise((resolve) => web?.close(resolve));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function consoleVm(name: string, kind: 'system' | 'disposable') {
    const info = await client.create({ appliance: 'console', name, kind });
    const domain = hv.host.get(info.id);
    assert.equal(await domain.guestRefreshed, true, 'guest agent answered after restore');
    return { info, domain };
  }

  /** Runs a shell line on the serial console and returns its output and exit status. */
  async function run(domain: ReturnType<RunningHypervisor['host']['get']>, command: string) {
    const tag = randomBytes(3).toString('hex');
    domain.serialInput(
      0,
      encoder.encode(`echo begin-${tag}; ${command}; echo "end-${tag} status=$?"\n`),
    );
    const started = performance.now();
    const match = await domain.console.waitFor(
      new RegExp(`\\nbegin-${tag}\\r?\\n([\\s\\S]*?)end-${tag} status=(\\d+)`),
      60_000,
    );
    return { output: match[1]!, status: Number(match[2]), ms: performance.now() - started };
  }

  test('the guest has its address and route from the fake network', async () => {
    const { info, domain } = await consoleVm('net-config', 'system');
    const addr = await run(domain, 'ip -4 addr show eth0; ip route; cat /etc/resolv.conf');
    assert.match(addr.output, /inet 192\.168\.86\.100\/24/);
    assert.match(addr.output, /default via 192\.168\.86\.1/);
    assert.match(addr.output, /nameserver 192\.168\.86\.1/);
    await client.destroy(info.id);
  });

  test('a VM whose policy allow-lists the host server fetches the page', async () => {
    const { info, domain } = await consoleVm('net-allowed', 'system');
    const url = `http://192.168.86.1:${webPort}/allowed`;
    const first = await run(domain, `wget -q -O - ${url}`);
    assert.equal(first.status, 0, first.output);
    assert.match(first.output, new RegExp(`${marker} /allowed`));
    // A second fetch: the relay is connected by now, so this is the steady-state figure.
    const second = await run(domain, `wget -q -O - ${url}`);
    assert.equal(second.status, 0);
    console.log(
      `# page through the NAT: first fetch ${first.ms.toFixed(0)} ms, second ${second.ms.toFixed(0)} ms (serial round trip included)`,
    );
    const net = await client.net(info.id);
    assert.equal(net.kind, 'system');
    assert.equal(net.attached, true);
    assert.equal(net.counters.connectionsOpened, 2);
    assert.equal(net.counters.connectionsDenied, 0);
    assert.ok(net.counters.bytesIn > marker.length * 2);
    assert.ok(net.counters.bytesOut > 0);
    // DNS from inside the guest goes to the host resolver (busybox nslookup skips /etc/hosts).
    const dns = await run(domain, 'nslookup localhost 192.168.86.1');
    assert.match(dns.output, /Address:\s*127\.0\.0\.1/);
    await client.destroy(info.id);
  });

  test("the browser appliance's NetSurf loads a page through the switch", async () => {
    const info = await client.create({ appliance: 'browser', name: 'net-browser', kind: 'system' });
    const domain = hv.host.get(info.id);
    assert.equal(await domain.guestRefreshed, true);
    const tap = (code: string) => {
      domain.key(code, true);
      domain.key(code, false);
    };
    const codes: Record<string, [string, boolean]> = {
      '.': ['Period', false],
      '/': ['Slash', false],
      ':': ['Semicolon', true],
    };
    // Into the URL bar (the kiosk's toolbar runs along the top), replacing the welcome page.
    domain.pointer(600, 12, 1);
    await sleep(100);
    domain.pointer(600, 12, 0);
    await sleep(500);
    tap('End');
    for (let i = 0; i < 60; i++) tap('Backspace');
    for (const ch of `http://192.168.86.1:${webPort}/browser`) {
      const [code, shift] = /[a-z]/.test(ch)
        ? [`Key${ch.toUpperCase()}`, false]
        : /[0-9]/.test(ch)
          ? [`Digit${ch}`, false]
          : codes[ch]!;
      if (shift) domain.key('ShiftLeft', true);
      tap(code);
      if (shift) domain.key('ShiftLeft', false);
    }
    await sleep(1_000);
    const entered = performance.now();
    tap('Enter');
    // The test page is solid #12ab34: most of the screen turns that colour once it is painted.
    let painted = false;
    while (!painted && performance.now() - entered < 120_000) {
      await sleep(500);
      const screen = await domain.captureScreen();
      let green = 0;
      for (let p = 0; p < screen.rgba.length; p += 4) {
        if (screen.rgba[p] === 0x12 && screen.rgba[p + 1] === 0xab && screen.rgba[p + 2] === 0x34) {
          green++;
        }
      }
      painted = green > (screen.width * screen.height) / 2;
    }
    assert.ok(painted, 'the page from the host was painted');
    console.log(
      `# browser page painted ${(performance.now() - entered).toFixed(0)} ms after Enter`,
    );
    const net = await client.net(info.id);
    assert.ok(net.counters.connectionsOpened >= 1);
    assert.ok(net.counters.bytesIn > 0);
    await client.destroy(info.id);
  });

  test('a disposable VM cannot reach it: the failure shows in the guest, the log and the counters', async () => {
    const { info, domain } = await consoleVm('net-denied', 'disposable');
    const url = `http://192.168.86.1:${webPort}/denied`;
    const attempt = await run(domain, `wget -q -O - ${url}`);
    assert.notEqual(attempt.status, 0, 'wget fails inside the guest');
    assert.doesNotMatch(attempt.output, new RegExp(marker));
    console.log(
      `# denied fetch failed in the guest after ${attempt.ms.toFixed(0)} ms: ${attempt.output.trim()}`,
    );
    // Another VM on the same host: private addresses are denied too.
    const neighbour = await run(domain, 'wget -q -O - http://192.168.86.100:80/');
    assert.notEqual(neighbour.status, 0);

    const net = await client.net(info.id);
    assert.equal(net.counters.connectionsOpened, 0);
    assert.ok(net.counters.connectionsDenied >= 1);
    assert.deepEqual(net.policy.publicPorts, [80, 443]);
    assert.ok(
      net.recentDenials.some(
        (d) => d.destination === `127.0.0.1:${webPort}` && d.reason === 'loopback address',
      ),
    );
    const logged = logLines.find(
      (l) =>
        l.msg === 'egress denied' &&
        l.domain === info.id &&
        l.destination === `127.0.0.1:${webPort}`,
    );
    assert.ok(logged, 'the denial is in the daemon log');
    assert.equal(logged.reason, 'loopback address');
    // DNS answers leave out what a disposable VM may not reach.
    const dns = await run(domain, 'nslookup localhost 192.168.86.1');
    assert.doesNotMatch(dns.output, /Address:\s*127\.0\.0\.1/);

    // The operator sees it with `vm net` (run asynchronously: this process is the daemon).
    const cli = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'hypervisor/src/cli/main.ts', 'net', info.id],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          HYPERVISOR_HOST: '127.0.0.1',
          HYPERVISOR_PORT: String(hv.config.port),
          HYPERVISOR_SECRET: hv.config.secret,
        },
      },
    );
    assert.match(cli.stdout, /disposable/);
    assert.match(cli.stdout, /public addresses on ports 80, 443/);
    assert.match(cli.stdout, /connections\s+0 opened, \d+ denied/);
    assert.match(cli.stdout, new RegExp(`127\\.0\\.0\\.1:${webPort}\\s+loopback address`));

    assert.equal((await fetch(`${hv.url}/metrics`)).status, 401, '/metrics needs the bearer');
    const metrics = await (
      await fetch(`${hv.url}/metrics`, {
        headers: { authorization: `Bearer ${hv.config.secret}` },
      })
    ).text();
    assert.match(
      metrics,
      /raydesk_net_connections_total\{kind="disposable",result="denied"\} [1-9]/,
    );
    await client.destroy(info.id);
  });
});
