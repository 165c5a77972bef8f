// What the APIs return about VMs and connections (never internal fields such as token hashes).
export interface VmView {
  id: string;
  kind: string;
  appliance: string;
  applianceTitle: string;
  state: string;
  domainId: string | null;
  hostId: string | null;
  memoryMiB: number;
  cpuPercent: number;
  createdAt: string;
  startedAt: string | null;
  suspendedAt: string | null;
  expiresAt: string | null;
  owner?: { id: string; email: string; name: string };
}

type VmLike = {
  id: string;
  kind: string;
  state: string;
  domainId: string | null;
  hostId: string | null;
  memoryMiB: number;
  cpuPercent: number;
  createdAt: Date;
  startedAt: Date | null;
  suspendedAt: Date | null;
  expiresAt: Date | null;
  appliance?: { name: string; title: string } | null;
  owner?: { id: string; email: string; name: string } | null;
};

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function vmView(vm: VmLike): VmView {
  return {
    id: vm.id,
    kind: vm.kind,
    appliance: vm.appliance?.name ?? '',
    applianceTitle: vm.appliance?.title ?? '',
    state: vm.state,
    domainId: vm.domainId,
    hostId: vm.hostId,
    memoryMiB: vm.memoryMiB,
    cpuPercent: Math.round(vm.cpuPercent * 10) / 10,
    createdAt: vm.createdAt.toISOString(),
    startedAt: iso(vm.startedAt),
    suspendedAt: iso(vm.suspendedAt),
    expiresAt: iso(vm.expiresAt),
    ...(vm.owner ? { owner: { id: vm.owner.id, email: vm.owner.email, name: vm.owner.name } } : {}),
  };
}

export interface ConnectionView {
  id: string;
  gatewaySessionId: string;
  vmId: string | null;
  domainId: string;
  mode: string;
  userAgent: string;
  browser: string;
  address: string;
  startedAt: string;
  user?: { id: string; email: string; name: string } | null;
  vmKind?: string | null;
}

/** "Chrome 156 on Linux" from a user agent string. */
export function describeBrowser(ua: string): string {
  if (!ua) return 'Unknown browser';
  const pick = (re: RegExp) => ua.match(re)?.[1];
  const browser =
    (pick(/Edg\/(\d+)/) && `Edge ${pick(/Edg\/(\d+)/)}`) ||
    (pick(/Firefox\/(\d+)/) && `Firefox ${pick(/Firefox\/(\d+)/)}`) ||
    (pick(/HeadlessChrome\/(\d+)/) && `Headless Chrome ${pick(/HeadlessChrome\/(\d+)/)}`) ||
    (pick(/Chrom(?:e|ium)\/(\d+)/) && `Chrome ${pick(/Chrom(?:e|ium)\/(\d+)/)}`) ||
    (pick(/Version\/(\d+).*Safari/) && `Safari ${pick(/Version\/(\d+).*Safari/)}`) ||
    'Browser';
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Mac OS X/.test(ua)
      ? 'macOS'
      : /Android/.test(ua)
        ? 'Android'
        : /iPhone|iPad/.test(ua)
          ? 'iOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : '';
  return os ? `${browser} on ${os}` : browser;
}

export function connectionView(c: {
  id: string;
  gatewaySessionId: string;
  vmId: string | null;
  domainId: string;
  mode: string;
  userAgent: string;
  address: string;
  startedAt: Date;
  user?: { id: string; email: string; name: string } | null;
  vm?: { kind: string } | null;
}): ConnectionView {
  return {
    id: c.id,
    gatewaySessionId: c.gatewaySessionId,
    vmId: c.vmId,
    domainId: c.domainId,
    mode: c.mode,
    userAgent: c.userAgent,
    browser: describeBrowser(c.userAgent),
    address: c.address,
    startedAt: c.startedAt.toISOString(),
    ...(c.user !== undefined
      ? { user: c.user ? { id: c.user.id, email: c.user.email, name: c.user.name } : null }
      : {}),
    ...(c.vm !== undefined ? { vmKind: c.vm?.kind ?? null } : {}),
  };
}
