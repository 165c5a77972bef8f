// Where VMs live. The gateway asks the directory for the hypervisor host that holds a VM; sessions
// and feeds only use this interface. The implementation is HypervisorPool
// (../hypervisors/pool.ts): one connection per host, VMs placed by their attach tokens.
import type { HypervisorClient } from '@raydesk/hypervisor/api';
import type { HostAddress } from '../protocol/internal.ts';

export interface HypervisorHost {
  /** Stable id of the host (HYPERVISOR_ID), for logs and metrics. */
  readonly id: string;
  readonly client: HypervisorClient;
}

export interface HostDirectory {
  /** The host holding `vmId`; rejects when no host has it (or none is reachable). */
  hostFor(vmId: string): Promise<HypervisorHost>;
  /** The connection to the host at `address`, opened on first use. */
  connect(address: HostAddress): HypervisorHost;
  /** Records that `vmId` lives on `address`, connecting to that host if needed. */
  place(vmId: string, address: HostAddress): HypervisorHost;
  /** Every host, so feeds can subscribe to each host's display events. */
  hosts(): readonly HypervisorHost[];
  close(): void;
}
