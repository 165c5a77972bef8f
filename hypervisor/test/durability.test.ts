// The personal-disk guarantee against a real daemon process: kill -9 it while the guest is
// writing and syncing, start it again, boot the VM on its overlay and check, inside the guest,
// that every file reported synced is there and that e2fsck finds the file system clean. Then a
// clean stop (SIGTERM) saves the running VM, and the next start resumes it where it was.
// RAYDESK_DURABILITY_ROUNDS sets how many kill -9 rounds run (default 2).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Daemon, freePort, run, waitForShell } from './daemon.ts';
import { sleep } from './harness.ts';

const ROUNDS = Number(process.env.RAYDESK_DURABILITY_ROUNDS ?? 2);

describe('personal disks survive the daemon', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-durability-'));
  let daemon: Daemon;
  after(async () => {
    await daemon?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test(`kill -9 mid-write, ${ROUNDS} times: synced files intact, e2fsck clean`, async () => {
    daemon = new Daemon(dataDir, await freePort());
    let client = await daemon.start();
    const created = await client.create({ appliance: 'console', kind: 'personal', owner: 'o' });
    const id = created.id;
    await waitForShell(client, id);

    for (let round = 1; round <= ROUNDS; round++) {
      // Rewrite a file, sync, report; with 128 KiB of other writes in flight around it.
      await client.consoleInput(
        id,
        'i=0; while :; do i=$((i+1)); dd if=/dev/urandom of=/root/blob bs=4k count=32 2>/dev/null; ' +
          'echo $i > /root/count.tmp; sync; mv /root/count.tmp /root/count; sync; echo SYNCED-$i; done\n',
      );
      let synced = 0;
      const target = 3 + Math.floor(Math.random() * 4);
      const deadline = Date.now() + 120_000;
      while (synced < target) {
        assert.ok(Date.now() < deadline, 'the guest never reported synced writes');
        const counts = [...(await client.console(id)).matchAll(/SYNCED-(\d+)/g)];
        if (counts.length > 0) synced = Number(counts.at(-1)![1]);
        await sleep(150);
      }
      await sleep(Math.random() * 1500); // kill at an arbitrary moment of the loop
      const counts = [...(await client.console(id)).matchAll(/SYNCED-(\d+)/g)];
      synced = Number(counts.at(-1)![1]);
      assert.equal(await daemon.stop('SIGKILL'), null); // killed by the signal

      client = await daemon.start();
      const recovered = await client.get(id);
      assert.equal(recovered.state, 'crashed', 'a VM that was not saved comes back crashed');
      assert.equal((await client.disk(id)).kind, 'durable');
      await client.start(id); // boots the guest on its surviving disk
      await waitForShell(client, id);
      const [, count, fsck] = await run(
        client,
        id,
        'echo COUNT=$(cat /root/count); mount -o remount,ro / && e2fsck -fn /dev/sda >/dev/null 2>&1; ' +
          'echo FSCK=$?; mount -o remount,rw /',
        /COUNT=(\d+)[\s\S]*FSCK=(\d+)/,
        120_000,
      );
      assert.ok(
        Number(count) >= synced,
        `round ${round}: /root/count is ${count} but ${synced} was reported synced`,
      );
      assert.equal(fsck, '0', `round ${round}: e2fsck found errors`);
      console.log(`round ${round}: killed after SYNCED-${synced}; count ${count}; e2fsck clean`);
    }
  });

  test('a clean stop saves the running personal VM; the next start resumes it', async () => {
    let client = daemon.client!;
    const id = (await client.list())[0]!.id;
    const [, pid] = await run(
      client,
      id,
      'echo before-stop > /root/stop; sleep 100000 & echo BG=$!',
      /BG=(\d+)/,
    );
    const stopStarted = Date.now();
    assert.equal(await daemon.stop('SIGTERM'), 0);
    const stopMs = Date.now() - stopStarted;
    assert.ok(existsSync(join(dataDir, 'states', `${id}.state`)), 'state saved on stop');

    client = await daemon.start();
    assert.equal((await client.get(id)).state, 'saved');
    const resumeStarted = Date.now();
    assert.equal((await client.start(id)).state, 'running');
    const resumeMs = Date.now() - resumeStarted;
    const [, text, alive] = await run(
      client,
      id,
      `cat /root/stop; kill -0 ${pid} && echo ALIVE=yes`,
      /(before-stop)[\s\S]*ALIVE=(yes)/,
    );
    assert.equal(text, 'before-stop');
    assert.equal(alive, 'yes', 'the process from before the stop is still running');
    console.log(`clean stop with one VM ${stopMs} ms; resume after start ${resumeMs} ms`);
    await client.destroy(id);
  });
});
