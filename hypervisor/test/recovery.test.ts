// After a crash of the daemon (kill -9), the personal VMs that had viewers boot again on their
// disks by themselves, one at a time, while the daemon already answers; those nobody watched
// stay crashed. Whether a VM is in use is kept in its record as viewers come and go.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { HypervisorClient } from '../src/api/index.ts';
import { Daemon, freePort, run, waitForShell } from './daemon.ts';
import { sleep } from './harness.ts';

describe('recovery of in-use desktops after a crash of the host', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-recovery-'));
  let daemon: Daemon;
  after(async () => {
    await daemon?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const inUse = (id: string): boolean =>
    (JSON.parse(readFileSync(join(dataDir, 'domains', `${id}.json`), 'utf8')) as { inUse: boolean })
      .inUse;

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
