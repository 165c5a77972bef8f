// Live relocation and cloning between two real hypervisor daemons on loopback: a personal
// console VM moves while a process runs in it and keeps its disk; a relocation whose target is
// killed mid-way leaves it running where it was; a clone gets its own machine-id and disk.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DomainMoved } from '../src/api/index.ts';
import { REPO_ROOT } from '@raydesk/common/node';
import { waitFor } from '@raydesk/common/testing';
import { DAEMON_SECRET, Daemon, ask, freePort, run, waitForShell } from './daemon.ts';
import { sleep } from './harness.ts';

/**
 * `npm run vm -- <args>` against the test daemons. Not spawnSync: a blocked event loop cannot
 * answer the daemons' socket.io pings, and a long drain would cost the test its connections.
 */
function vm(...args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'hypervisor/src/cli/main.ts'), ...args],
    { cwd: REPO_ROOT, env: { ...process.env, HYPERVISOR_SECRET: DAEMON_SECRET } },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out }));
  });
}

/** A daemon with its own data directory, port and host id. */
async function started(name: string): Promise<Daemon> {
  const dataDir = mkdtempSync(join(tmpdir(), `raydesk-reloc-${name}-`));
  const d = new Daemon(dataDir, await freePort(), { HYPERVISOR_ID: name });
  await d.start();
  return d;
}

describe('live relocation between two hosts', () => {
  let a: Daemon;
  let b: Daemon;
  let id: string;
  let pid: string;
  const token = `token-${process.pid}-${Date.now()}`;

  before(async () => {
    [a, b] = await Promise.all([started('host-a'), started('host-b')]);
  });
  after(async () => {
    for (const d of [a, b]) {
      await d?.stop('SIGKILL');
      if (d) rmSync(d.dataDir, { recursive: true, force: true });
    }
  });

  test('a running VM moves with its processes, its disk and its id', async () => {
    const source = a.client!;
    id = (await source.create({ appliance: 'console', kind: 'personal', owner: 'alice' })).id;
    await waitForShell(source, id);
    await run(source, id, `echo ${token} > /root/before; sync; echo "WRI""TTEN"`, /WRITTEN/);
    const started = await run(
      source,
      id,
      '(while :; do date +%s > /root/tick; sleep 1; done) & echo "PID""=$!"',
      /PID=(\d+)/,
    );
    pid = started[1]!;
    const machineId = await ask(source, id, 'MID', '$(cat /etc/machine-id)');

    const moved = new Promise<DomainMoved>((resolve) =>
      source.socket.once('domain:moved', resolve),
    );
    const report = await source.call('domain:migrate', { id, to: b.url });
    assert.equal(report.id, id);
    assert.equal(report.toHostId, 'host-b');
    assert.equal(report.info.state, 'running');
    assert.ok(report.pagesSent > 0 && report.bytes > report.pagesSent * 4096 - 1);
    assert.deepEqual(await moved, { id, hostId: 'host-b', url: b.url });
    console.log(
      `relocated: ${report.rounds} rounds, ${report.pagesSent} pages, ${report.bytes} bytes, ` +
        `${report.totalMs} ms total, paused ${report.pausedMs} ms`,
    );

    // The source forgot it, files included; the target owns it with the same record.
    assert.equal(
      (await source.list()).find((d) => d.id === id),
      undefined,
    );
    assert.equal(existsSync(join(a.dataDir, 'disks', `${id}.overlay`)), false);
    const target = b.client!;
    const info = await target.get(id);
    assert.equal(info.state, 'running');
    assert.equal(info.owner, 'alice');
    assert.equal((await target.disk(id)).kind, 'durable');
    assert.ok(existsSync(join(b.dataDir, 'disks', `${id}.overlay`)));

    const alive = `$(kill -0 ${pid} && echo yes || echo no)`;
    assert.equal(await ask(target, id, 'ALIVE', alive), 'yes', 'the process still runs');
    assert.equal(await ask(target, id, 'FILE', '$(cat /root/before)'), token, 'the file is intact');
    assert.equal(await ask(target, id, 'MID', '$(cat /etc/machine-id)'), machineId);
    // The background loop keeps writing its disk on the new host (a starved guest may take a
    // while to run it again, so this waits for the next tick rather than a fixed time).
    const t1 = await ask(target, id, 'TICK', '$(cat /root/tick)');
    await waitFor(
      'the process to keep running after the move',
      async () => Number(await ask(target, id, 'TICK', '$(cat /root/tick)')) > Number(t1),
      60_000,
      1000,
    );
  });

  test('a guest that writes its memory fast moves too, though its last pages fill many chunks', async () => {
    // dd rewrites an 8 MiB buffer without pause, so no round shrinks and the stop-and-copy
    // carries thousands of pages: more binary parts than one socket.io call may hold.
    const source = a.client!;
    const busy = (await source.create({ appliance: 'console', owner: 'alice' })).id;
    try {
      await waitForShell(source, busy);
      const churn = await run(
        source,
        busy,
        '(while :; do dd if=/dev/zero of=/dev/null bs=8M count=64 2>/dev/null; done) & echo "PID""=$!"',
        /PID=(\d+)/,
      );
      const report = await source.call('domain:migrate', { id: busy, to: b.url });
      console.log(
        `busy guest relocated: ${report.rounds} rounds, last round ${report.pause.lastRoundPages} ` +
          `pages, paused ${report.pausedMs} ms`,
      );
      assert.equal(report.info.state, 'running');
      assert.equal((await b.client!.get(busy)).state, 'running');
      const alive = `$(kill -0 ${churn[1]} && echo yes || echo no)`;
      assert.equal(await ask(b.client!, busy, 'ALIVE', alive), 'yes');
    } finally {
      await b.client!.destroy(busy).catch(() => source.destroy(busy).catch(() => undefined));
    }
  });

  test('a relocation whose target is killed mid-way leaves the VM running on the source', async () => {
    const c = await started('host-c');
    const source = b.client!;
    const incoming = join(c.dataDir, 'disks', `${id}.overlay.incoming`);
    const migrating = source.call('domain:migrate', { id, to: c.url });
    // It may fail while the target is still being killed, before assert.rejects looks at it.
    migrating.catch(() => undefined);
    // Kill the target once it has begun receiving.
    const deadline = Date.now() + 60_000;
    while (!existsSync(incoming) && Date.now() < deadline) await sleep(5);
    assert.ok(existsSync(incoming), 'the target never began receiving');
    await c.stop('SIGKILL');
    await assert.rejects(migrating);
    rmSync(c.dataDir, { recursive: true, force: true });

    const info = await source.get(id);
    assert.equal(info.state, 'running');
    const alive = `$(kill -0 ${pid} && echo yes || echo no)`;
    assert.equal(await ask(source, id, 'ALIVE', alive), 'yes');
    assert.equal(await ask(source, id, 'FILE', '$(cat /root/before)'), token);
    assert.ok(existsSync(join(b.dataDir, 'disks', `${id}.overlay`)));
  });

  test('a clone has its own id, machine-id and disk', async () => {
    const host = b.client!;
    const originalMid = await ask(host, id, 'MID', '$(cat /etc/machine-id)');
    const clones = await host.call('domain:clone', { id, count: 1 });
    assert.equal(clones.length, 1);
    const clone = clones[0]!;
    assert.notEqual(clone.id, id);
    assert.equal(clone.state, 'running');
    assert.equal((await host.get(id)).state, 'running');
    assert.ok(existsSync(join(b.dataDir, 'disks', `${clone.id}.overlay`)));

    // The guest agent gives the clone its identity shortly after it runs.
    let cloneMid = originalMid;
    for (let n = 0; n < 40 && cloneMid === originalMid; n++) {
      cloneMid = await ask(host, clone.id, 'MID', '$(cat /etc/machine-id)');
      if (cloneMid === originalMid) await sleep(500);
    }
    assert.notEqual(cloneMid, originalMid, 'the clone has a new machine-id');

    // Same disk contents at the moment of the clone, separate from then on.
    assert.equal(await ask(host, clone.id, 'FILE', '$(cat /root/before)'), token);
    await run(host, clone.id, 'echo mine > /root/clone-only; sync; echo "WRO""TE"', /WROTE/);
    const seen = await ask(host, id, 'SEEN', '$(test -e /root/clone-only && echo yes || echo no)');
    assert.equal(seen, 'no', "the clone's writes stay on its own disk");
    assert.ok(readdirSync(join(b.dataDir, 'disks')).length >= 2);
  });

  test('the CLI moves it back and refuses bad arguments', async () => {
    const bad = await vm('migrate', id, '--to', 'host-without-registry', '--from', b.url);
    assert.equal(bad.status, 2, bad.out);
    assert.match(bad.out, /fleet registry/);
    assert.equal((await vm('clone', id, '--count', '0', '--from', b.url)).status, 2);
    const moved = await vm('migrate', id, '--to', a.url, '--from', b.url);
    assert.equal(moved.status, 0, moved.out);
    assert.match(moved.out, new RegExp(`moved ${id} from host-b to host-a`));
  });

  test('drain moves every running VM off a host and makes it refuse new ones', async () => {
    const left = (await b.client!.list()).filter((d) => d.state === 'running');
    assert.ok(left.length > 0, 'the clone still runs on host-b');
    const drained = await vm('drain', b.url, '--to', a.url);
    assert.equal(drained.status, 0, drained.out);
    assert.equal((await b.client!.list()).filter((d) => d.state === 'running').length, 0);
    for (const domain of left) assert.equal((await a.client!.get(domain.id)).state, 'running');
    assert.equal((await b.client!.hostInfo()).draining, true);
    await assert.rejects(b.client!.create({ appliance: 'console' }), /draining/);
    await b.client!.call('host:undrain', {});
    assert.equal((await b.client!.hostInfo()).draining, false);
  });
});
