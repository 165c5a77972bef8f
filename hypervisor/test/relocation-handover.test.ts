// The relocation hand-over is a two-phase commit decided by the sender: real hypervisor
// daemons are stalled (SIGSTOP) or killed (SIGKILL) at each step of it, and afterwards the VM
// runs on exactly one host, with its disk and (when it had been committed) its processes.
// Each faulty daemon stops or kills itself at one step (RAYDESK_RELOCATION_FAULT, see
// src/host/relocation/faults.ts), so the fault lands exactly between two steps.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HypervisorClient } from '../src/api/index.ts';
import type { FaultStep } from '../src/host/relocation/faults.ts';
import { Daemon, ask, freePort, run, waitForShell } from './daemon.ts';
import { sleep } from './harness.ts';

const daemons = new Set<Daemon>();

async function started(
  name: string,
  fault?: `${FaultStep}:${'stop' | 'kill'}`,
  reuse?: Daemon,
): Promise<Daemon> {
  const dataDir = reuse?.dataDir ?? mkdtempSync(join(tmpdir(), `raydesk-handover-${name}-`));
  const port = reuse?.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { HYPERVISOR_ID: name };
  if (fault) env.RAYDESK_RELOCATION_FAULT = fault;
  const daemon = new Daemon(dataDir, port, env);
  await daemon.start();
  daemons.add(daemon);
  return daemon;
}

/** Ends a daemon (a stopped one too) and keeps its data directory for a restart. */
async function ended(daemon: Daemon): Promise<void> {
  daemon.signal('SIGCONT');
  await daemon.stop('SIGKILL');
}

async function until(what: string, check: () => Promise<boolean>, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting until ${what}`);
}

async function holds(client: HypervisorClient, id: string): Promise<boolean> {
  return (await client.list()).some((d) => d.id === id && d.state !== 'stopped');
}

describe('relocation hand-over under faults', () => {
  let a: Daemon;
  let id: string;
  let pid: string;
  const token = `handover-${process.pid}-${Date.now()}`;
  const alive = () => `$(kill -0 ${pid} && echo yes || echo no)`;

  /** Starts a process in the guest that must survive a committed move. */
  async function startTicker(client: HypervisorClient): Promise<void> {
    const started = await run(
      client,
      id,
      '(while :; do date +%s > /root/tick; sleep 1; done) & echo "PID""=$!"',
      /PID=(\d+)/,
    );
    pid = started[1]!;
  }

  before(async () => {
    a = await started('host-a');
    id = (await a.client!.create({ appliance: 'console', kind: 'personal', owner: 'ada' })).id;
    await waitForShell(a.client!, id);
    await run(a.client!, id, `echo ${token} > /root/before; sync; echo "WRI""TTEN"`, /WRITTEN/);
    await startTicker(a.client!);
  });
  after(async () => {
    for (const daemon of daemons) {
      await ended(daemon).catch(() => undefined);
      rmSync(daemon.dataDir, { recursive: true, force: true });
    }
  });

  test('the target stalls before its prepared answer leaves: the VM stays on the source, the target drops its copy', async () => {
    const target = await started('host-t1', 'target:prepared:stop');
    await assert.rejects(a.client!.call('domain:migrate', { id, to: target.url }));
    assert.equal((await a.client!.get(id)).state, 'running');
    assert.equal(await ask(a.client!, id, 'ALIVE', alive()), 'yes');
    // Woken up, it learns the sender kept the VM and drops the copy it held paused.
    target.signal('SIGCONT');
    await until('the target dropped its copy', async () => !(await holds(target.client!, id)));
    assert.equal((await a.client!.get(id)).state, 'running');
    assert.equal(await ask(a.client!, id, 'FILE', '$(cat /root/before)'), token);
    await ended(target);
  });

  test('the target stalls when the commit arrives: the move completes once it wakes, the VM runs only there', async () => {
    const target = await started('host-t2', 'target:commit:stop');
    const migrating = a.client!.call('domain:migrate', { id, to: target.url });
    migrating.catch(() => undefined);
    // The source decided: it forgets the VM and keeps telling the stalled target.
    await until('the source handed the VM over', async () => !(await holds(a.client!, id)));
    await sleep(6_000);
    target.signal('SIGCONT');
    const report = await migrating;
    assert.equal(report.info.state, 'running');
    assert.equal((await target.client!.get(id)).state, 'running');
    assert.equal(await holds(a.client!, id), false);
    assert.equal(await ask(target.client!, id, 'ALIVE', alive()), 'yes', 'its process survived');
    assert.equal(await ask(target.client!, id, 'FILE', '$(cat /root/before)'), token);
    // Back to host-a for the next cases.
    await target.client!.call('domain:migrate', { id, to: a.url });
    await ended(target);
  });

  test('the source dies before it decides: the target drops its copy, the source brings the VM back from its disk', async () => {
    let source = await started('host-s3', 'source:prepared:kill');
    await a.client!.call('domain:migrate', { id, to: source.url });
    const migrating = source.client!.call('domain:migrate', { id, to: a.url });
    migrating.catch(() => undefined);
    await source.exited();
    await assert.rejects(migrating);
    // host-a holds the prepared VM paused and asks the dead source, again and again.
    await sleep(4_000);
    assert.notEqual((await a.client!.get(id)).state, 'running');
    await ended(source);
    source = await started('host-s3', undefined, source);
    await until('host-a dropped its copy', async () => !(await holds(a.client!, id)));
    // The source's record brought it back: stopped by the crash, its disk intact.
    const back = await source.client!.get(id);
    assert.notEqual(back.state, 'running');
    await source.client!.start(id);
    await waitForShell(source.client!, id);
    assert.equal(await ask(source.client!, id, 'FILE', '$(cat /root/before)'), token);
    await startTicker(source.client!);
    await source.client!.call('domain:migrate', { id, to: a.url });
    await ended(source);
  });

  test('the source dies after it decided: the target runs the VM once the source answers again', async () => {
    let source = await started('host-s4', 'source:committed:kill');
    await a.client!.call('domain:migrate', { id, to: source.url });
    const migrating = source.client!.call('domain:migrate', { id, to: a.url });
    migrating.catch(() => undefined);
    await source.exited();
    await sleep(4_000);
    // Decided but not told: host-a keeps it paused rather than guess.
    assert.notEqual((await a.client!.get(id)).state, 'running');
    await ended(source);
    source = await started('host-s4', undefined, source);
    await until('host-a runs the VM', async () => (await a.client!.get(id)).state === 'running');
    assert.equal(await holds(source.client!, id), false);
    assert.equal(await ask(a.client!, id, 'ALIVE', alive()), 'yes', 'its process survived');
    assert.equal(await ask(a.client!, id, 'FILE', '$(cat /root/before)'), token);
    await ended(source);
  });
});
