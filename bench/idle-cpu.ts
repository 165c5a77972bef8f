// Idle CPU per VM: what a VM that nobody watches and nobody types into costs the host. One VM of
// the appliance is resumed from its golden snapshot (no standby), left to settle, then measured
// two ways over the same window: the hypervisor process's CPU time (all threads) minus the same
// process's CPU over an equal window before the VM existed, and the VM worker thread's own CPU
// time as its scheduler reports carry it (/proc/thread-self/schedstat).
import type { ApplianceName } from '@raydesk/hypervisor/api';
import type { Host } from '@raydesk/hypervisor/host';
import { internalsOf } from '@raydesk/hypervisor/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SETTLE_MS = 8_000;

export interface IdleCpu {
  /** Host process CPU added by the VM, percent of one core. */
  processPercent: number;
  /** The VM worker thread's own CPU, percent of one core. */
  workerPercent: number;
  seconds: number;
}

function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function cpuPercentOver(ms: number): Promise<number> {
  const cpu0 = processCpuMs();
  const t0 = performance.now();
  await sleep(ms);
  return ((processCpuMs() - cpu0) / (performance.now() - t0)) * 100;
}

export async function measureIdleCpu(
  host: Host,
  appliance: ApplianceName,
  seconds: number,
): Promise<IdleCpu> {
  const { golden, scheduler } = internalsOf(host);
  await golden.state(appliance);
  const baseline = await cpuPercentOver(seconds * 1000);
  const domain = await host.create({ appliance, name: `idle-${appliance}` });
  try {
    await domain.guestRefreshed;
    await sleep(SETTLE_MS);
    const thread0 = scheduler.statsOf(domain.id).threadCpuMs;
    const t0 = performance.now();
    const withVm = await cpuPercentOver(seconds * 1000);
    const workerPercent =
      ((scheduler.statsOf(domain.id).threadCpuMs - thread0) / (performance.now() - t0)) * 100;
    return {
      processPercent: Math.round(Math.max(0, withVm - baseline) * 10) / 10,
      workerPercent: Math.round(workerPercent * 10) / 10,
      seconds,
    };
  } finally {
    await host.destroy(domain.id);
  }
}
