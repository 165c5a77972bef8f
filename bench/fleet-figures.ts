// What `npm run bench -- --only fleet` writes under `fleet` (bench/fleet.ts measures it).
import type { Dist } from './stats.ts';

export interface FleetFigures {
  relocation: {
    /** As the viewer sees it: the longest gap between paints around the move. */
    downtimeMs: Dist;
    /** On the hosts: the guest frozen on the source until it ran on the target. */
    hostPauseMs: Dist;
    totalMs: Dist;
    /** Mean bytes sent per relocation (pages, disk, device state). */
    bytes: number;
    rounds: number;
    viewerReconnects: number;
    /** Where the downtime went: the host's pause breakdown and the moments after the freeze. */
    phases: Record<string, Dist>;
    method: string;
  };
  clone: { ms: Dist; method: string };
  /** kill -9 of the viewer's gateway to the desktop painted again (through either gateway). */
  gatewayFailoverMs: Dist;
  /** Of those samples, how many came back through the other gateway (not the killed one, restarted). */
  gatewayFailoverToOther: number;
  /** Hosts and gateways live in the registry of the fleet the failover was measured in. */
  hosts: number;
  gateways: number;
}
