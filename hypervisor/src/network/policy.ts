// Egress policy of the virtual switch: which destinations a VM of each kind may open TCP
// connections to. Pure functions over IP literals; host names are resolved by the caller first
// and the resolved address is what gets checked (and then connected to), so a DNS answer can
// never smuggle a private or loopback target past the policy.
import ipaddr from 'ipaddr.js';
import type { DomainKind } from '../api/protocol.ts';

/** Address classes; everything but `public` is denied unless an allowlist entry covers it. */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'carrier-grade-nat'
  | 'link-local'
  | 'multicast'
  | 'unspecified'
  | 'broadcast'
  | 'reserved'
  | 'unique-local';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const IPV4_CLASSES: Array<[string, AddressClass]> = [
  ['0.0.0.0/8', 'unspecified'], // "this network"; 0.0.0.0 reaches the host itself on Linux
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'carrier-grade-nat'],
  ['169.254.0.0/16', 'link-local'], // includes the 169.254.169.254 cloud metadata service
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

const IPV6_CLASSES: Array<[string, AddressClass]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'unique-local'],
  ['fec0::/10', 'unique-local'], // deprecated site-local, still routed inside some sites
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

/** IPv6 prefixes that carry an IPv4 address in their low 32 bits: judged by that address. */
const IPV6_EMBEDDING_IPV4 = ['::ffff:0:0/96', '::/96', '64:ff9b::/96'].map((c) =>
  ipaddr.parseCIDR(c),
);
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
const IPV6_6TO4 = ipaddr.parseCIDR('2002::/16');

const parsedV4 = IPV4_CLASSES.map(([c, k]) => [ipaddr.parseCIDR(c), k] as const);
const parsedV6 = IPV6_CLASSES.map(([c, k]) => [ipaddr.parseCIDR(c), k] as const);

/** Parses an IP literal into its canonical form; IPv4 in IPv6 clothing becomes plain IPv4. */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // ipaddr.isValid also accepts legacy forms like "0x7f.1" and "2130706433"; only dotted-quad
  // IPv4 and standard IPv6 are accepted here, so what is logged is what is connected to.
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (!bare.includes(':') || !ipaddr.IPv6.isValid(bare)) return null;
  return ipaddr.IPv6.parse(bare);
}

function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const bytes = address.toByteArray();
  if (IPV6_EMBEDDING_IPV4.some((cidr) => address.match(cidr))) {
    return new ipaddr.IPv4(bytes.slice(12, 16));
  }
  if (address.match(IPV6_6TO4)) return new ipaddr.IPv4(bytes.slice(2, 6));
  return null;
}

/** The class of an address; IPv6 forms that embed IPv4 get the class of the IPv4 address. */
export function classifyAddress(address: ipaddr.IPv4 | ipaddr.IPv6): AddressClass {
  if (address.kind() === 'ipv4') {
    for (const [cidr, kind] of parsedV4) if (address.match(cidr)) return kind;
    return 'public';
  }
  const v6 = address as ipaddr.IPv6;
  for (const [cidr, kind] of parsedV6) if (v6.match(cidr)) return kind;
  const inner = embeddedIpv4(v6);
  if (inner) return classifyAddress(inner);
  return v6.match(IPV6_GLOBAL_UNICAST) ? 'public' : 'reserved';
}

/** One allowlist entry: a CIDR (or single address) with an optional port. */
export interface AllowRule {
  text: string;
  cidr: Cidr;
  port: number | null;
}

/**
 * Parses `NETWORK_ALLOWLIST`-style text: entries separated by commas or white space, each
 * `ADDRESS[/PREFIX][:PORT]`; IPv6 with a port is bracketed: `[fd00::/8]:443`, `[::1]:8080`.
 * Throws with the offending entry named.
 */
export function parseAllowlist(text: string): AllowRule[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(parseAllowRule);
}

export function parseAllowRule(entry: string): AllowRule {
  let network = entry;
  let portText: string | null = null;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    network = bracketed[1]!;
    portText = bracketed[2] ?? null;
  } else if (!entry.includes('::') && entry.split(':').length === 2) {
    [network, portText] = entry.split(':') as [string, string];
  }
  let port: number | null = null;
  if (portText !== null) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new Error(`allowlist entry "${entry}": bad port`);
  }
  const [addressText, prefixText] = network.split('/') as [string, string | undefined];
  const address = parseAddress(addressText);
  if (!address)
    throw new Error(`allowlist entry "${entry}": "${addressText}" is not an IP address`);
  const maxPrefix = address.kind() === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? '0') || !(prefix >= 0 && prefix <= maxPrefix)) {
    throw new Error(`allowlist entry "${entry}": bad prefix length`);
  }
  return { text: entry, cidr: [address, prefix], port };
}

function ruleCovers(rule: AllowRule, address: ipaddr.IPv4 | ipaddr.IPv6, port?: number): boolean {
  if (rule.cidr[0].kind() !== address.kind()) return false;
  if (!address.match(rule.cidr)) return false;
  return port === undefined || rule.port === null || rule.port === port;
}

/** The egress policy of one domain kind. */
export interface KindPolicy {
  kind: DomainKind;
  /** Ports allowed on public addresses; `null` means any port. */
  publicPorts: number[] | null;
  /** Destinations allowed whatever their class (tests, intranets). */
  allow: AllowRule[];
}

export interface EgressPolicyConfig {
  /** Ports a disposable VM may reach on public addresses (default 80 and 443). */
  disposablePorts: number[];
  /** Entries for every kind, then per kind. */
  allowAll: AllowRule[];
  allowByKind: Record<DomainKind, AllowRule[]>;
}

export const DEFAULT_DISPOSABLE_PORTS = [80, 443];

export function defaultEgressConfig(): EgressPolicyConfig {
  return {
    disposablePorts: [...DEFAULT_DISPOSABLE_PORTS],
    allowAll: [],
    allowByKind: { personal: [], disposable: [], system: [] },
  };
}

/**
 * The policy for a kind. Disposable (browser) VMs: public addresses on the web ports only.
 * Personal and system VMs: public addresses on any port. Every kind: loopback, private, CGNAT,
 * link-local (metadata), multicast, unspecified and reserved addresses are denied unless
 * allow-listed, which also keeps VMs from reaching each other or the host's own services.
 */
export function policyForKind(config: EgressPolicyConfig, kind: DomainKind): KindPolicy {
  return {
    kind,
    publicPorts: kind === 'disposable' ? config.disposablePorts : null,
    allow: [...config.allowAll, ...config.allowByKind[kind]],
  };
}

export type EgressDecision =
  | { allowed: true; addressClass: AddressClass; rule: string | null }
  | { allowed: false; addressClass: AddressClass | null; reason: string };

/** Decides one TCP connection to an IP literal and port. */
export function decideEgress(
  policy: KindPolicy,
  addressText: string,
  port: number,
): EgressDecision {
  const address = parseAddress(addressText);
  if (!address) return { allowed: false, addressClass: null, reason: 'not an IP address' };
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { allowed: false, addressClass: null, reason: `bad port ${port}` };
  }
  const addressClass = classifyAddress(address);
  const rule = policy.allow.find((r) => ruleCovers(r, address, port));
  if (rule) return { allowed: true, addressClass, rule: rule.text };
  if (addressClass !== 'public') {
    return { allowed: false, addressClass, reason: `${addressClass} address` };
  }
  if (policy.publicPorts && !policy.publicPorts.includes(port)) {
    return {
      allowed: false,
      addressClass,
      reason: `port ${port} is not open to ${policy.kind} VMs (only ${policy.publicPorts.join(', ')})`,
    };
  }
  return { allowed: true, addressClass, rule: null };
}

/** Whether any port of this address could be allowed: used to filter DNS answers. */
export function mayReachAddress(policy: KindPolicy, addressText: string): boolean {
  const address = parseAddress(addressText);
  if (!address) return false;
  if (policy.allow.some((r) => ruleCovers(r, address))) return true;
  return classifyAddress(address) === 'public';
}

/** A human summary of a kind's policy, for `vm net` and the API. */
export function describePolicy(policy: KindPolicy): {
  kind: DomainKind;
  publicPorts: number[] | 'any';
  allow: string[];
  denied: string;
} {
  return {
    kind: policy.kind,
    publicPorts: policy.publicPorts ?? 'any',
    allow: policy.allow.map((r) => r.text),
    denied:
      'loopback, private (RFC 1918, fc00::/7), CGNAT, link-local (incl. 169.254.169.254), ' +
      'multicast, unspecified and reserved addresses, unless allow-listed',
  };
}
