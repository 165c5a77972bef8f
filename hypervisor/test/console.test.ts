// Integration tests on the `console` appliance (busybox): cold boot, serial console, lifecycle,
// memory admission, crash isolation, save/restore and the CLI, through the real control channel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HypervisorError } from '../src/api/index.ts';
import { readStateHeader } from '../src/snapshots/codec.ts';
import { REPO_ROOT } from '@raydesk/common/node';
import { startTestHypervisor, sleep, type TestHypervisor } from './harness.ts';

const encoder = new TextEncoder();

describe('console appliance on a real hypervisor', () => {
  let hv: TestHypervisor;
  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 1024 });
  });
  after(async () => {
    await hv?.close();
  });

  /** A console VM, resumed from the golden snapshot unless `coldBoot`. */
  async function bootConsole(name: string, coldBoot = false) {
    const info = await hv.client.create({ appliance: 'console', name, coldBoot });
    const domain = hv.host.get(info.id);
    if (coldBoot) await domain.waitForAgentEvent(/^\* ready console/, 180_000);
    else assert.equal(await domain.guestRefreshed, true, 'guest agent answered after restore');
    return { info, domain };
  }

  test('cold-boots, prints the kernel banner on serial, and runs commands typed there', async () => {
    const { info, domain } = await bootConsole('serial-check', true);
    assert.equal(info.state, 'running');
    domain.serialInput(0, encoder.encode('echo raydesk-$((6*7))\n'));
    await domain.console.waitFor(/raydesk-42/, 30_000);
    const log = await hv.client.console(info.id);
    assert.match(log, /raydesk-init: console up after/);
    assert.match(log, /BusyBox v1\.\d+/);
    assert.match(log, /raydesk-42/);
    assert.equal(await domain.agentRequest('ping', []), 'pong');
    assert.match(await domain.agentRequest('info', []), /^hostname=raydesk-console /);
    await hv.client.destroy(info.id);
  });

  test('refuses illegal transitions with a clear error', async () => {
    const { info } = await bootConsole('transitions');
    await assert.rejects(hv.client.unpause(info.id), (error: unknown) => {
      assert.ok(error instanceof HypervisorError);
      assert.equal(error.code, 'illegal_transition');
      assert.match(error.message, /cannot unpause domain .* while it is running/);
      return true;
    });
    const paused = await hv.client.pause(info.id);
    assert.equal(paused.state, 'paused');
    await assert.rejects(hv.client.pause(info.id), /while it is paused/);
    assert.equal((await hv.client.unpause(info.id)).state, 'running');
    await hv.client.destroy(info.id);
    await assert.rejects(hv.client.get(info.id), /no domain/);
  });

  test('creating past the memory budget fails with a clear error', async () => {
    await assert.rejects(
      hv.client.create({ appliance: 'console', memoryMiB: 2048, coldBoot: true }),
      (error: unknown) => {
        assert.ok(error instanceof HypervisorError);
        assert.equal(error.code, 'insufficient_memory');
        assert.match(error.message, /needs \d+ MiB, \d+ MiB of the 1024 MiB budget is free/);
        return true;
      },
    );
  });

  test('killing one worker marks that VM crashed and leaves another running', async () => {
    const a = await bootConsole('victim');
    const b = await bootConsole('survivor');
    await a.domain.killWorker();
    assert.equal((await hv.client.get(a.info.id)).state, 'crashed');
    // The survivor still executes guest code and answers on serial.
    b.domain.serialInput(0, encoder.encode('echo still-$((40+2))\n'));
    await b.domain.console.waitFor(/still-42/, 30_000);
    assert.equal((await hv.client.get(b.info.id)).state, 'running');
    // A crashed VM can be restarted.
    const restarted = await hv.client.start(a.info.id);
    assert.equal(restarted.state, 'running');
    await hv.client.destroy(a.info.id);
    await hv.client.destroy(b.info.id);
  });

  test('destroying a VM while it is still starting ends its boot cleanly', async () => {
    // Settled into a value at once: the rejection comes while destroy runs, before any await.
    const creating = hv.host.create({ appliance: 'console', name: 'short-lived' }).then(
      () => null,
      (error: unknown) => error,
    );
    let starting = hv.host.list().find((d) => d.name === 'short-lived');
    for (let i = 0; !starting && i < 200; i++) {
      await sleep(10);
      starting = hv.host.list().find((d) => d.name === 'short-lived');
    }
    assert.equal(starting?.state, 'starting');
    await hv.client.destroy(starting.id);
    assert.match(String(await creating), /destroyed while starting/);
    assert.ok((await hv.client.hostInfo()).hostId, 'the host is still serving');
  });

  test('save frees the RAM and restore brings the same guest back', async () => {
    const { info, domain } = await bootConsole('saver');
    domain.serialInput(0, encoder.encode('echo before-save > /tmp/marker\n'));
    await sleep(500);
    const used = (await hv.client.hostInfo()).memoryUsedMiB;
    const file = join(hv.config.dataDir, 'saver.state');
    const saved = await hv.client.save(info.id, file);
    assert.equal(saved.info.state, 'saved');
    assert.ok(existsSync(file) && statSync(file).size === saved.bytes);
    assert.equal(
      (await hv.client.hostInfo()).memoryUsedMiB,
      used - info.memoryMiB - info.vgaMemoryMiB,
    );
    const restored = await hv.client.restore(file);
    assert.equal(restored.id, info.id);
    assert.equal(restored.state, 'running');
    const again = hv.host.get(info.id);
    again.serialInput(0, encoder.encode('cat /tmp/marker\n'));
    await again.console.waitFor(/before-save[\s\S]*before-save/, 30_000);
    await hv.client.destroy(info.id);
  });

  test('a suspended personal VM resumes as the same machine: file, process, boot id', async () => {
    const info = await hv.client.create({ appliance: 'console', kind: 'personal', owner: 'o' });
    assert.equal(await hv.host.get(info.id).guestRefreshed, true);
    const token = `note-${Date.now()}`;
    const [, pid, bootId] = await run(
      info.id,
      `echo ${token} > /root/note; sync; (while :; do sleep 1; done) & ` +
        'echo PID=$! BOOT=$(cat /proc/sys/kernel/random/boot_id)',
      /PID=(\d+) BOOT=([0-9a-f-]{36})/,
    );
    const saved = await hv.client.save(info.id);
    assert.equal(saved.info.state, 'saved');
    // Saved against the golden snapshot it was cloned from: the pages that differ, not its RAM.
    const { header } = await readStateHeader(stateFile(info.id));
    assert.match(header.goldenId ?? '', /@/);
    assert.ok(saved.bytes < (info.memoryMiB * 2 ** 20) / 8, `a delta: ${saved.bytes} bytes`);
    assert.equal((await hv.client.resume(info.id)).state, 'running');
    const [, note, alive, bootAfter] = await run(
      info.id,
      `echo NOTE=$(cat /root/note) ALIVE=$(kill -0 ${pid} && echo yes) ` +
        'BOOT=$(cat /proc/sys/kernel/random/boot_id)',
      /NOTE=(\S*) ALIVE=(\S*) BOOT=([0-9a-f-]{36})/,
    );
    assert.equal(note, token, 'the file written before the suspend is there');
    assert.equal(alive, 'yes', `process ${pid} started before the suspend still runs`);
    assert.equal(bootAfter, bootId, 'the same kernel runs (no reboot)');
    await hv.client.destroy(info.id);
  });

  test('a state saved against a golden this host no longer has boots on its disk instead', async () => {
    const info = await hv.client.create({ appliance: 'console', kind: 'personal', owner: 'o' });
    assert.equal(await hv.host.get(info.id).guestRefreshed, true);
    const token = `kept-${Date.now()}`;
    const [, bootId] = await run(
      info.id,
      `echo ${token} > /root/note; sync; echo BOOT=$(cat /proc/sys/kernel/random/boot_id)`,
      /BOOT=([0-9a-f-]{36})/,
    );
    await hv.client.save(info.id);
    // As if the golden snapshot had been rebuilt since: the state names one this host lacks.
    const file = stateFile(info.id);
    const { header } = await readStateHeader(file);
    const bytes = readFileSync(file);
    const named = Buffer.from(`"goldenId":"${header.goldenId}"`);
    const at = bytes.indexOf(named);
    assert.ok(at > 0);
    const renamed = Buffer.from(`"goldenId":"${'x'.repeat(header.goldenId!.length)}"`);
    writeFileSync(
      file,
      Buffer.concat([bytes.subarray(0, at), renamed, bytes.subarray(at + named.length)]),
    );

    assert.equal((await hv.client.resume(info.id)).state, 'running');
    await hv.host.get(info.id).waitForAgentEvent(/^\* ready console/, 180_000);
    const [, note, bootAfter] = await run(
      info.id,
      'echo NOTE=$(cat /root/note) BOOT=$(cat /proc/sys/kernel/random/boot_id)',
      /NOTE=(\S*) BOOT=([0-9a-f-]{36})/,
    );
    assert.equal(note, token, 'the disk kept what was written before the suspend');
    assert.notEqual(bootAfter, bootId, 'its memory could not come back: the guest booted');
    assert.equal(existsSync(file), false, 'the unusable state is gone');
    await hv.client.destroy(info.id);
  });

  function stateFile(id: string): string {
    return join(hv.config.dataDir, 'states', `${id}.state`);
  }

  /** Types `line` on the console and waits for `until` in what follows. */
  async function run(id: string, line: string, until: RegExp): Promise<RegExpExecArray> {
    const before = (await hv.client.console(id)).length;
    hv.host.get(id).serialInput(0, encoder.encode(`${line}\n`));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      // The echoed command line holds the pattern's words too; match only complete output lines.
      const output = (await hv.client.console(id)).slice(before).split('\n').slice(1).join('\n');
      const match = until.exec(output);
      if (match) return match;
      await sleep(200);
    }
    throw new Error(`no ${until} on the console within 60 s after "${line}"`);
  }
});

describe('vm CLI', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'hypervisor/src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });

  test('rejects an unknown appliance with a clear message and status 2', () => {
    const result = cli(['create', '--appliance', 'windows']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /Allowed choices are console, desktop, browser/);
  });

  test('rejects a malformed domain id before contacting the daemon', () => {
    const result = cli(['pause', 'NOT AN ID!']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /invalid domain id/);
  });

  test('says clearly when the daemon is not running', () => {
    const result = cli(['list'], { HYPERVISOR_PORT: '1', HYPERVISOR_SECRET: 'whatever-secret' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /cannot reach the hypervisor/);
  });
});
