// The parts of a Host that tests and benchmarks look into (scheduler statistics, the switch's
// relay URLs, golden snapshots). Production code talks to the Host's methods; this is reached
// only through `@raydesk/hypervisor/testing`.
import type { NetworkSwitch } from '../network/switch.ts';
import type { GoldenSnapshots } from '../snapshots/golden.ts';
import type { CreditScheduler } from './scheduler.ts';

export interface HostInternals {
  scheduler: CreditScheduler;
  network: NetworkSwitch;
  golden: GoldenSnapshots;
}

const internals = new WeakMap<object, HostInternals>();

export function exposeInternals(host: object, parts: HostInternals): void {
  internals.set(host, parts);
}

export function internalsOf(host: object): HostInternals {
  const parts = internals.get(host);
  if (!parts) throw new Error('not a Host');
  return parts;
}
