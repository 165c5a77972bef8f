// After a crash of the daemon (kill -9), the personal VMs that had viewers boot again on their
// disks by themselves, one at a time, while the daemon already answers; those nobody watched
// stay crashed. Whether a VM is in use is kept in its record as viewers come and go.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HypervisorError, type HypervisorClient } from '../src/api/index.ts';
import { HostFiles } from '../src/host/host-files.ts';
import { Daemon, freePort, run, waitForShell } from './daemon.ts';
import { sleep } from './harness.ts';

describe('recovery of in-use desktops after a crash of the host', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-recovery-'));
  let daemon: Daemon;
  after(async () => {
    await daemon?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const files = new HostFiles(dataDir);
  const inUse = (id: string): boolean =>
    (JSON.parse(readFileSync(files.recordFile(id), 'utf8')) as { inUse: boolean }).inUse;

  async function until(
    what: string,
    predicate: () => Promise<boolean> | boolean,
    timeoutMs: number,
  ): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  test('kill -9: the watched VM boots again on its disk, the unwatched one stays crashed', async () => {
    daemon = new Daemon(dataDir, await freePort());
    let client: HypervisorClient = await daemon.start();
    const used = await client.create({ appliance: 'console', kind: 'personal', owner: 'u1' });
    const idle = await client.create({ appliance: 'console', kind: 'personal', owner: 'u2' });
    await waitForShell(client, used.id);

    // The record follows the viewers: watched, unwatched, watched again.
    assert.equal(inUse(used.id), false);
    await client.watch(used.id);
    assert.equal(inUse(used.id), true);
    await client.unwatch(used.id);
    assert.equal(inUse(used.id), false);
    await client.watch(used.id);
    assert.equal(inUse(used.id), true);
    assert.equal(inUse(idle.id), false);

    const [, marker] = await run(
      client,
      used.id,
      'echo recovered-$((6*7)) > /root/marker; sync; echo SYNCED-$(cat /root/marker)',
      /SYNCED-(recovered-42)/,
    );
    assert.equal(marker, 'recovered-42');
    assert.equal(await daemon.stop('SIGKILL'), null, 'killed by the signal');

    const restarted = Date.now();
    client = await daemon.start();
    // The daemon answers while the recovered VM is still on its way up.
    const first = await client.get(used.id);
    const answeredMs = Date.now() - restarted;
    assert.ok(
      first.restartPending ||
        first.state === 'starting' ||
        (first.state === 'running' && !first.guestReady),
      `answered before the guest was up: ${first.state}, ready ${first.guestReady}`,
    );
    const idleInfo = await client.get(idle.id);
    assert.equal(idleInfo.state, 'crashed', 'a VM nobody watched stays crashed');
    assert.equal(idleInfo.restartPending, false);

    await until(
      'the in-use VM to run with its guest ready',
      async () => {
        const info = await client.get(used.id);
        return info.state === 'running' && info.guestReady && !info.restartPending;
      },
      240_000,
    );
    const readyMs = Date.now() - restarted;
    assert.equal((await client.disk(used.id)).kind, 'durable');
    const [, again] = await run(
      client,
      used.id,
      'echo AGAIN-$(cat /root/marker)',
      /AGAIN-([a-z0-9-]+)/,
    );
    assert.equal(again, 'recovered-42', 'booted on its own disk: the synced file is there');
    assert.equal((await client.get(idle.id)).state, 'crashed');
    console.log(
      `# first answer ${answeredMs} ms after spawning the daemon; in-use VM ready after ${readyMs} ms`,
    );
  });
});

describe('a suspended desktop the host has no record of', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-unrecorded-'));
  const files = new HostFiles(dataDir);
  let daemon: Daemon;
  after(async () => {
    await daemon?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('resumes by its id from its state file (its record was lost)', async () => {
    daemon = new Daemon(dataDir, await freePort());
    let client: HypervisorClient = await daemon.start();
    const vm = await client.create({ appliance: 'console', kind: 'personal', owner: 'u3' });
    await waitForShell(client, vm.id);
    await run(
      client,
      vm.id,
      'echo kept-$((6*7)) > /root/kept; sync; echo WROTE-$(cat /root/kept)',
      /WROTE-kept-42/,
    );
    await client.save(vm.id);
    assert.equal(await daemon.stop('SIGTERM'), 0);
    rmSync(files.recordFile(vm.id));
    assert.ok(existsSync(files.stateFile(vm.id)), 'the state file stays');

    client = await daemon.start();
    await assert.rejects(
      client.get(vm.id),
      (error: unknown) => error instanceof HypervisorError && error.code === 'not_found',
      'without its record the host does not list it',
    );
    const resumed = await client.resume(vm.id);
    assert.equal(resumed.id, vm.id);
    assert.equal(resumed.state, 'running');
    assert.equal(existsSync(files.stateFile(vm.id)), false, 'the state is consumed');
    const [, kept] = await run(client, vm.id, 'echo HAVE-$(cat /root/kept)', /HAVE-([a-z0-9-]+)/);
    assert.equal(kept, 'kept-42');
    await assert.rejects(
      client.resume('vm-0000dead'),
      (error: unknown) => error instanceof HypervisorError && error.code === 'not_found',
    );
  });
});
