// The personal-disk guarantee against a real daemon process: kill -9 it while the guest is
// writing and syncing, start it again, boot the VM on its overlay and check, inside the guest,
// that every file reported synced is there and that e2fsck finds the file system clean. Then a
// clean stop (SIGTERM) saves the running VM, and the next start resumes it where it was.
// RAYDESK_DURABILITY_ROUNDS sets how many kill -9 rounds run (default 2).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HypervisorClient } from '../src/api/index.ts';
import { REPO_ROOT } from '../src/config.ts';
import { sleep } from './harness.ts';

const ROUNDS = Number(process.env.RAYDESK_DURABILITY_ROUNDS ?? 2);
const SECRET = `durability-${process.pid}-secret`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The hypervisor daemon as `npm start` runs it, in its own process. */
class Daemon {
  private child: ChildProcess | null = null;
  client: HypervisorClient | null = null;

  constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  async start(): Promise<HypervisorClient> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'hypervisor/src/host/main.ts')],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          RAYDESK_DATA_DIR: this.dataDir,
          HYPERVISOR_HOST: '127.0.0.1',
          HYPERVISOR_PORT: String(this.port),
          HYPERVISOR_SECRET: SECRET,
          STANDBY_APPLIANCES: '',
          IDLE_SUSPEND_SECONDS: '0',
          HOST_MEMORY_BUDGET_MIB: '1024',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('hypervisor listening')) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`daemon exited early (${code}): ${out}`)));
    });
    this.client = new HypervisorClient({
      url: `http://127.0.0.1:${this.port}`,
      secret: SECRET,
      timeoutMs: 10 * 60_000,
    });
    await this.client.connected();
    return this.client;
  }

  /** Ends the daemon with `signal` and resolves with its exit code. */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    this.client?.close();
    this.client = null;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const code = await exited;
    this.child = null;
    return code;
  }
}

/** Types a line on the guest console and waits for `until` in the output that follows. */
async function run(
  client: HypervisorClient,
  id: string,
  line: string,
  until: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  const before = (await client.console(id)).length;
  await client.consoleInput(id, `${line}\n`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = until.exec((await client.console(id)).slice(before));
    if (match) return match;
    await sleep(200);
  }
  throw new Error(`no ${until} on the console within ${timeoutMs} ms after "${line}"`);
}

/** Waits until the guest's shell answers (after a cold boot). */
async function waitForShell(client: HypervisorClient, id: string): Promise<void> {
  const deadline = Date.now() + 240_000;
  for (let n = 0; Date.now() < deadline; n++) {
    try {
      await run(client, id, `echo SHELL-$((${n}+1000))`, new RegExp(`SHELL-${n + 1000}`), 3_000);
      return;
    } catch {
      // not up yet
    }
  }
  throw new Error(`guest ${id} never answered on its console`);
}

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
