// Where VMs live. The gateway asks the directory for the hypervisor host that holds a VM; today
// there is one host (the local daemon), but sessions and feeds only use this interface, so a
// directory over several hosts (by a placement table or by asking each) drops in later.
import { HypervisorClient } from '@raydesk/hypervisor/api';

export interface HypervisorHost {
  /** Stable id of the host, for logs and metrics. */
  readonly id: string;
  readonly client: HypervisorClient;
}

export interface HostDirectory {
  /** The host holding `vmId`; rejects when no host has it (or none is reachable). */
  hostFor(vmId: string): Promise<HypervisorHost>;
  /** Every host, so feeds can subscribe to each host's display events. */
  hosts(): readonly HypervisorHost[];
  close(): void;
}

export class SingleHostDirectory implements HostDirectory {
  private readonly host: HypervisorHost;
  constructor(options: { url: string; secret: string; id?: string; timeoutMs?: number }) {
    this.host = {
      id: options.id ?? 'local',
      client: new HypervisorClient({
        url: options.url,
        secret: options.secret,
        // Attaching to a suspended desktop resumes it inside the watch call: allow for that.
        timeoutMs: options.timeoutMs ?? 60_000,
      }),
    };
  }
  async hostFor(): Promise<HypervisorHost> {
    return this.host;
  }
  hosts(): readonly HypervisorHost[] {
    return [this.host];
  }
  close(): void {
    this.host.client.close();
  }
}
