// Idle cost per desktop, thread by thread: a hypervisor daemon in its own process (as
// `npm run hypervisor` runs it), N desktop VMs resumed from the golden snapshot, nobody typing.
// The daemon's threads are read from /proc/<pid>/task/*/stat over a window, in three phases:
// no VM, N VMs with no viewer, the same VMs with one viewer each (a control-channel watcher in
// this process, so its own cost is not the daemon's). Worker threads are the ones that appeared
// with the VMs; the rest is the daemon (main thread, V8's and libuv's helpers).
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HypervisorClient } from '@raydesk/hypervisor/api';
import { HypervisorProcess, freePort } from '@raydesk/hypervisor/testing';

const CLOCK_TICKS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Ticks = Map<number, { comm: string; ticks: number }>;

function threadTicks(pid: number): Ticks {
  const out: Ticks = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the comm.
      out.set(Number(tid), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

export interface IdleThreadCost {
  vms: number;
  seconds: number;
  /** Percent of one core per VM. */
  workerPerVm: number;
  daemonPerVm: number;
  /** The daemon's threads other than the workers, percent of a core in total. */
  daemonTotal: number;
  daemonMain: number;
  /** The daemon's other threads by name (V8's helpers run GC and wasm compiles for workers). */
  daemonByThread: Record<string, number>;
}

async function window(
  pid: number,
  workers: Set<number>,
  seconds: number,
  vms: number,
  baselineDaemon: number,
): Promise<IdleThreadCost> {
  const a = threadTicks(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const b = threadTicks(pid);
  const wall = (performance.now() - t0) / 1000;
  let worker = 0;
  let daemon = 0;
  let main = 0;
  const byThread: Record<string, number> = {};
  for (const [tid, now] of b) {
    const used = now.ticks - (a.get(tid)?.ticks ?? 0);
    if (workers.has(tid)) worker += used;
    else {
      daemon += used;
      const name = tid === pid ? 'main' : now.comm;
      byThread[name] = (byThread[name] ?? 0) + used;
    }
    if (tid === pid) main += used;
  }
  const pct = (ticks: number) => (ticks / CLOCK_TICKS / wall) * 100;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    vms,
    seconds: round(wall),
    workerPerVm: vms ? round(pct(worker) / vms) : 0,
    daemonPerVm: vms ? round((pct(daemon) - baselineDaemon) / vms) : 0,
    daemonTotal: round(pct(daemon)),
    daemonMain: round(pct(main)),
    daemonByThread: Object.fromEntries(
      Object.entries(byThread).map(([name, ticks]) => [name, round(pct(ticks))]),
    ),
  };
}

export async function measureIdleThreads(options: {
  vms: number;
  seconds: number;
  /** Consecutive windows without a viewer (the JIT warms up after a resume); the last counts. */
  windows?: number;
  log: (line: string) => void;
}): Promise<{ baseline: IdleThreadCost; noViewer: IdleThreadCost; oneViewer: IdleThreadCost }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-idle-'));
  const daemon = new HypervisorProcess(dataDir, await freePort(), {
    HOST_MEMORY_BUDGET_MIB: String(Math.max(1024, options.vms * 400)),
  });
  const client: HypervisorClient = await daemon.start();
  try {
    const pid = daemon.pid!;
    await sleep(5000);
    const baseline = await window(pid, new Set(), options.seconds, 0, 0);
    options.log(`daemon with no VM: ${baseline.daemonTotal}% of a core`);
    const before = new Set(threadTicks(pid).keys());
    const ids: string[] = [];
    for (let i = 0; i < options.vms; i++) {
      ids.push((await client.create({ appliance: 'desktop', name: `idle-${i + 1}` })).id);
    }
    await sleep(10_000);
    const workers = new Set([...threadTicks(pid).keys()].filter((tid) => !before.has(tid)));
    let noViewer = await window(pid, workers, options.seconds, ids.length, baseline.daemonTotal);
    options.log(`${ids.length} idle desktops, no viewer: ${JSON.stringify(noViewer)}`);
    for (let i = 1; i < (options.windows ?? 1); i++) {
      noViewer = await window(pid, workers, options.seconds, ids.length, baseline.daemonTotal);
      options.log(`${ids.length} idle desktops, no viewer: ${JSON.stringify(noViewer)}`);
    }
    let frames = 0;
    client.socket.on('display:frame', () => frames++);
    for (const id of ids) await client.watch(id);
    await sleep(3000);
    frames = 0;
    const oneViewer = await window(pid, workers, options.seconds, ids.length, baseline.daemonTotal);
    options.log(
      `${ids.length} idle desktops, one viewer each: ${JSON.stringify(oneViewer)}, ${frames} frames`,
    );
    return { baseline, noViewer, oneViewer };
  } finally {
    for (const d of await client.list().catch(() => []))
      await client.destroy(d.id).catch(() => undefined);
    await daemon.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}
