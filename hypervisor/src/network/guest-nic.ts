// Worker side of a VM's network: the v86 options for its NIC and the two globals v86's wisp
// adapter needs under Node. v86's fake network stack runs here, in the domain's own worker:
// it answers the guest's ARP and DHCP, terminates its TCP, and carries each TCP stream as a
// wisp stream to the host's switch (switch.ts), which owns every real socket and the policy.
// Each VM therefore sits alone on its own virtual Ethernet segment with only the fake router.
import { WebSocket } from 'ws';
import { buildServfail } from './dns-message.ts';
import { GuestForwardEndpoint } from './guest-forward.ts';
import type { V86NetworkAdapter } from './guest-tcp.ts';

/** The fake network's addresses (v86 defaults, set explicitly so the host can rely on them). */
export const GUEST_NETWORK = {
  routerIp: '192.168.86.1',
  routerMac: '52:54:00:01:02:03',
  guestIp: '192.168.86.100',
  /**
   * virtio-net rather than v86's default NE2000: the NE2000 moves every byte through emulated
   * port I/O, virtio through shared rings. Measured here, 8 MiB through the switch took 31-40 s
   * with ne2k and 5-12 s with virtio, and a DHCP exchange 1.4 s against 0.14 s.
   */
  nic: 'virtio',
} as const;

/** What the host hands a worker so its VM can reach the switch. */
export interface GuestNetworkConfig {
  /** wisp://127.0.0.1:<port>/wisp/<domain>/<token>/ */
  relayUrl: string;
  /** http://127.0.0.1:<port>/dns/<domain>/<token> (DNS messages, POST) */
  dnsUrl: string;
  /** ws://127.0.0.1:<port>/forward/<domain>/<token>/ (host-to-guest port forwards) */
  forwardUrl: string;
}

// v86 resolves the guest's DNS queries over DoH at https://<doh_server>/dns-query with the
// global fetch. The worker's fetch is replaced so that exactly this URL goes to the host's
// resolver (policy-filtered, counted) and nothing else leaves the worker.
const DOH_HOST = 'raydesk-host-resolver.invalid';
const DOH_URL = `https://${DOH_HOST}/dns-query`;
const DNS_TIMEOUT_MS = 8_000;

/**
 * A browser-like WebSocket on top of `ws`, only as much as v86's wisp adapter uses. Unlike a
 * bare `ws` socket it never throws into the worker: a refused connection or an exception in
 * v86's frame handler would otherwise end the whole VM (uncaught exceptions are fatal there).
 * v86 reconnects by itself 10 s after `onclose`.
 */
class RelayWebSocket {
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onclose: (() => void) | null = null;
  private readonly socket: WebSocket;
  private readonly pending: Uint8Array[] = [];

  constructor(url: string) {
    this.socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 20 });
    this.socket.binaryType = 'arraybuffer';
    this.socket.on('open', () => {
      for (const data of this.pending.splice(0)) this.socket.send(data);
    });
    this.socket.on('message', (data: ArrayBuffer) => {
      try {
        this.onmessage?.({ data });
      } catch {
        // A frame v86 cannot place (a stream it already forgot): dropping it only affects
        // that one guest connection, which times out inside the guest.
      }
    });
    this.socket.on('close', () => this.onclose?.());
    this.socket.on('error', () => undefined); // 'close' follows, and v86 reconnects
  }

  set binaryType(_value: string) {
    // Always arraybuffer.
  }

  send(data: Uint8Array): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(data);
    else if (this.socket.readyState === WebSocket.CONNECTING) this.pending.push(data.slice());
  }

  close(): void {
    this.socket.close();
  }
}

function installDnsThroughHost(dnsUrl: string): void {
  const hostFetch = globalThis.fetch;
  const dnsAnswer = (body: Uint8Array) =>
    new Response(new Uint8Array(body), {
      status: 200,
      headers: { 'content-type': 'application/dns-message' },
    });
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url !== DOH_URL) return new Response(null, { status: 403 });
    const query =
      init?.body instanceof Uint8Array ? init.body : new Uint8Array(init?.body as ArrayBuffer);
    // v86 does not catch a failed fetch, and an unhandled rejection ends the worker: every
    // failure becomes a SERVFAIL answer instead.
    try {
      const response = await hostFetch(dnsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/dns-message' },
        body: new Uint8Array(query),
        signal: AbortSignal.timeout(DNS_TIMEOUT_MS),
      });
      if (!response.ok) return dnsAnswer(buildServfail(query));
      return dnsAnswer(new Uint8Array(await response.arrayBuffer()));
    } catch {
      return dnsAnswer(buildServfail(query));
    }
  };
}

/**
 * Installs the worker globals and returns the v86 constructor options for the VM's NIC.
 * Call before constructing V86 (its wisp adapter opens the WebSocket in its constructor).
 */
export function guestNetworkOptions(config: GuestNetworkConfig): Record<string, unknown> {
  (globalThis as { WebSocket?: unknown }).WebSocket = RelayWebSocket;
  installDnsThroughHost(config.dnsUrl);
  return {
    net_device: {
      type: GUEST_NETWORK.nic,
      relay_url: config.relayUrl,
      router_ip: GUEST_NETWORK.routerIp,
      router_mac: GUEST_NETWORK.routerMac,
      vm_ip: GUEST_NETWORK.guestIp,
      dns_method: 'doh',
      doh_server: DOH_HOST,
    },
    // Every clone of a golden snapshot keeps the MAC its guest driver read at boot; a new
    // random MAC would make the NIC drop every frame addressed to the old one. Each VM has
    // its own segment, so identical MACs on different VMs never meet.
    preserve_mac_from_state_image: true,
  };
}

/**
 * Connects the VM's fake network to the switch's port-forward channel, so the host can open
 * connections into the guest. Call once the emulator has loaded (v86 makes its network adapter
 * then).
 */
export function startGuestForwards(
  emulator: { network_adapter?: unknown },
  config: GuestNetworkConfig,
): GuestForwardEndpoint {
  const adapter = emulator.network_adapter as V86NetworkAdapter | undefined;
  if (!adapter?.tcp_conn) throw new Error("v86 has no fake network adapter for this VM's NIC");
  return new GuestForwardEndpoint(adapter, config.forwardUrl);
}
