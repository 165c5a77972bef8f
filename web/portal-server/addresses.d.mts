import type { NetworkInterfaceInfo } from 'node:os';

export interface PortalAddresses {
  /** What to open: PORTAL_PUBLIC_URL, else this machine's name. */
  url: string;
  /** The same portal on this machine. */
  local: string;
  /** False when the portal listens on a loopback address only. */
  fromOtherComputers: boolean;
}

export declare function isLoopbackBind(bind: string | undefined): boolean;
export declare function reachableHostName(
  hostname?: string,
  interfaces?: Record<string, NetworkInterfaceInfo[] | undefined>,
): string;
export declare function portalAddresses(options: {
  port: number;
  tls: boolean;
  bind?: string;
  publicUrl?: string;
  hostname?: string;
}): PortalAddresses;
export declare function describePortal(addresses: PortalAddresses): string;
