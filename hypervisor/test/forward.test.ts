// Host-to-guest port forwards end to end: a console VM (from its golden snapshot) runs busybox
// servers; the host reaches them through `domain:forward` and `npm run vm -- forward`, over the
// switch's forward channel, the worker and a TCP connection from the guest's fake router.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { HypervisorClient, HypervisorError } from '../src/api/index.ts';
import { REPO_ROOT } from '@raydesk/common/node';
import { loadConfig } from '../src/config.ts';
import { startHypervisor, type RunningHypervisor } from '../src/host/index.ts';

const encoder = new TextEncoder();
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Sends `payload`, half-closes, and returns everything the other side sent until it closed. */
function exchange(port: number, payload: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(payload));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

describe('port forwards into a real guest', () => {
  const logLines: Array<{ msg: string; audit?: string; domain?: string; why?: string }> = [];
  let hv: RunningHypervisor;
  let client: HypervisorClient;
  let dataDir: string;
  let vmId: string;

  const cli = (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'hypervisor/src/cli/main.ts', ...args],
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

  /** Runs a shell line on the serial console and returns its output. */
  async function run(command: string): Promise<string> {
    const domain = hv.host.get(vmId);
    const tag = randomBytes(3).toString('hex');
    domain.serialInput(0, encoder.encode(`echo begin-${tag}; ${command}; echo "end-${tag}"\n`));
    const match = await domain.console.waitFor(
      new RegExp(`\\nbegin-${tag}\\r?\\n([\\s\\S]*?)end-${tag}`),
      60_000,
    );
    return match[1]!;
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'raydesk-forward-'));
    const base = loadConfig({ ...process.env, HYPERVISOR_SECRET: `forward-test-${process.pid}` });
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
      },
      log,
    );
    client = new HypervisorClient({ url: hv.url, secret: hv.config.secret, timeoutMs: 600_000 });
    await client.connected();
    const info = await client.create({ appliance: 'console', name: 'forward', kind: 'system' });
    vmId = info.id;
    assert.equal(await hv.host.get(vmId).guestRefreshed, true);
    // A web server with a file of random bytes, and a sink that answers with the hash of what
    // it received once the client is done sending.
    await run(
      'mkdir -p /tmp/www && head -c 400000 /dev/urandom >/tmp/www/blob && ' +
        'httpd -p 8080 -h /tmp/www && ' +
        "printf '#!/bin/sh\\ncat >/tmp/up\\nsha256sum </tmp/up\\n' >/tmp/sink && chmod +x /tmp/sink && " +
        '(nc -ll -p 7000 -e /tmp/sink &) && ' +
        "until netstat -ltn | grep -q ':7000 '; do usleep 100000; done",
    );
  });
  after(async () => {
    client?.close();
    await hv?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('a file served in the guest arrives intact through a loopback forward', async () => {
    const forward = await client.forward({ id: vmId, guestPort: 8080 });
    assert.equal(forward.listen.host, '127.0.0.1');
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${forward.listen.port}/blob`);
    assert.equal(response.status, 200);
    const body = new Uint8Array(await response.arrayBuffer());
    const ms = performance.now() - started;
    assert.equal(body.length, 400_000);
    const guestHash = (await run('sha256sum /tmp/www/blob')).split(/\s/)[0];
    assert.equal(sha256(body), guestHash);
    console.log(
      `# 400 kB from the guest through the forward in ${ms.toFixed(0)} ms (${(400 / (ms / 1000)).toFixed(0)} kB/s)`,
    );
    const net = await client.net(vmId);
    assert.equal(net.forwards.length, 1);
    assert.ok(net.forwards[0]!.bytesFromGuest > 400_000);
    await client.unforward(vmId, { port: forward.listen.port });
  });

  test('bytes sent to the guest arrive intact, and its answer after our FIN comes back', async () => {
    const forward = await client.forward({ id: vmId, guestPort: 7000 });
    const payload = randomBytes(300_000);
    const started = performance.now();
    const reply = await exchange(forward.listen.port, payload);
    const ms = performance.now() - started;
    assert.equal(reply.toString().split(/\s/)[0], sha256(payload));
    console.log(`# 300 kB to the guest and its hash back in ${ms.toFixed(0)} ms`);
    await client.unforward(vmId, { port: forward.listen.port });
  });

  test('a guest port nobody listens on closes the client connection at once', async () => {
    const forward = await client.forward({ id: vmId, guestPort: 9 });
    const started = performance.now();
    // Closed or reset: the host may close the socket before reading what the client sent, and
    // the kernel then answers with a reset.
    const reply = await exchange(forward.listen.port, encoder.encode('anyone?')).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNRESET') return Buffer.alloc(0);
        throw error;
      },
    );
    assert.equal(reply.length, 0);
    assert.ok(performance.now() - started < 10_000, 'refused, not timed out');
    await client.unforward(vmId, { port: forward.listen.port });
  });

  test('`vm forward` opens a forward, `vm net` lists it, `vm unforward` closes it', async () => {
    const opened = await cli('forward', vmId, '8080');
    const match = /^127\.0\.0\.1:(\d+) -> (\S+):8080/.exec(opened.stdout);
    assert.ok(match, opened.stdout);
    assert.equal(match[2], vmId);
    const port = Number(match[1]);
    const page = await fetch(`http://127.0.0.1:${port}/blob`);
    assert.equal((await page.arrayBuffer()).byteLength, 400_000);
    const net = await cli('net', vmId);
    assert.match(net.stdout, new RegExp(`forward\\s+127\\.0\\.0\\.1:${port} -> ${vmId}:8080`));
    const closed = await cli('unforward', vmId, String(port));
    assert.match(closed.stdout, /^closed 127\.0\.0\.1:/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/blob`));

    for (const bad of [
      ['forward', vmId, '70000'],
      ['forward', vmId, '80', '--listen', 'localhost:8080'],
      ['forward', 'NOT_AN_ID', '80'],
    ]) {
      await assert.rejects(cli(...bad), (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 2, bad.join(' '));
        assert.match(error.stderr ?? '', /invalid/);
        return true;
      });
    }
  });

  test('forwards need a running VM and end when it stops', async () => {
    await client.pause(vmId);
    const whilePaused = await client.forward({ id: vmId, guestPort: 8080 });
    await client.unpause(vmId);
    const page = await fetch(`http://127.0.0.1:${whilePaused.listen.port}/blob`);
    assert.equal((await page.arrayBuffer()).byteLength, 400_000, 'works once it runs again');
    await client.save(vmId, join(dataDir, 'forward.state'));
    await assert.rejects(fetch(`http://127.0.0.1:${whilePaused.listen.port}/blob`));
    await assert.rejects(
      client.forward({ id: vmId, guestPort: 8080 }),
      (error: unknown) => error instanceof HypervisorError && error.code === 'illegal_transition',
    );
    await client.start(vmId);
    const forward = await client.forward({ id: vmId, guestPort: 8080 });
    await client.destroy(vmId);
    await assert.rejects(fetch(`http://127.0.0.1:${forward.listen.port}/blob`));
    const audit = logLines.filter((l) => l.audit === 'port-forward' && l.domain === vmId);
    assert.ok(audit.some((l) => l.msg === 'port forward opened'));
    assert.ok(audit.some((l) => l.msg === 'port-forward connection'));
    assert.ok(audit.some((l) => l.msg === 'port forward closed' && l.why === 'the VM is saved'));
    assert.ok(audit.some((l) => l.msg === 'port forward closed' && l.why === 'the VM stopped'));
  });
});
