// The gateway's connections to hypervisor hosts, one per host, keyed by the host's id. In the
// embedded default there is one host (HYPERVISOR_URL); in a fleet each attach token names the
// host of its VM and the pool connects to it on first use. It is the gateway's HostDirectory:
// feeds ask it which host holds a VM, and `place` moves a VM to another host (after a relocation
// or when a token says it lives elsewhere).
import { HypervisorClient } from '@raydesk/hypervisor/api';
import type { HostDirectory, HypervisorHost } from '../hosts/directory.ts';
import type { HostAddress } from '../protocol/internal.ts';

export type { HostAddress };

export interface HypervisorPoolOptions {
  secret: string;
  /** The host of VMs nobody placed (the embedded default's one hypervisor); null: none. */
  defaultHost: HostAddress | null;
  /** Per-call timeout; attaching to a suspended desktop resumes it inside the watch call. */
  timeoutMs?: number;
}

export class UnknownHostError extends Error {
  constructor(vmId: string) {
    super(`no hypervisor host is known for VM ${vmId}`);
    this.name = 'UnknownHostError';
  }
}

export class HypervisorPool implements HostDirectory {
  private readonly byId = new Map<string, HypervisorHost & { url: string }>();
  private readonly placement = new Map<string, string>();

  constructor(private readonly options: HypervisorPoolOptions) {
    if (options.defaultHost) this.connect(options.defaultHost);
  }

  /** The connection to a host, opened on first use; a host whose URL changed is reconnected. */
  connect(address: HostAddress): HypervisorHost {
    const known = this.byId.get(address.id);
    if (known && known.url === address.url) return known;
    known?.client.close();
    const host = {
      id: address.id,
      url: address.url,
      client: new HypervisorClient({
        url: address.url,
        secret: this.options.secret,
        timeoutMs: this.options.timeoutMs ?? 60_000,
      }),
    };
    this.byId.set(address.id, host);
    return host;
  }

  /** Records that `vmId` lives on `address` (connecting to it); returns that host. */
  place(vmId: string, address: HostAddress): HypervisorHost {
    const host = this.connect(address);
    this.placement.set(vmId, host.id);
    return host;
  }

  get(hostId: string): HypervisorHost | undefined {
    return this.byId.get(hostId);
  }

  async hostFor(vmId: string): Promise<HypervisorHost> {
    const placed = this.placement.get(vmId);
    const host = placed
      ? this.byId.get(placed)
      : this.options.defaultHost && this.byId.get(this.options.defaultHost.id);
    if (!host) throw new UnknownHostError(vmId);
    return host;
  }

  hosts(): readonly HypervisorHost[] {
    return [...this.byId.values()];
  }

  close(): void {
    for (const host of this.byId.values()) host.client.close();
    this.byId.clear();
    this.placement.clear();
  }
}
