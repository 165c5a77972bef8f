// What to tell people about where the portal is: the machine's name (how other computers reach
// it), never only localhost.
import { hostname as osHostname, networkInterfaces } from 'node:os';

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost']);

/** Whether a bind address (PORTAL_BIND) accepts only connections from this machine. */
export function isLoopbackBind(bind) {
  if (!bind) return false;
  const host = bind.replace(/^\[|\]$/g, '').toLowerCase();
  return LOOPBACK_NAMES.has(host) || host === '::1' || /^(::ffff:)?127\./.test(host);
}

/**
 * The name other computers can use for this machine: its host name, or (when that is only
 * localhost) its first external IPv4 address.
 */
export function reachableHostName(
  hostname = osHostname(),
  interfaces = /** @type {Record<string, import('node:os').NetworkInterfaceInfo[] | undefined>} */ (
    networkInterfaces()
  ),
) {
  if (hostname && !LOOPBACK_NAMES.has(hostname.toLowerCase())) return hostname;
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family === 'IPv4' && !info.internal) return info.address;
    }
  }
  return 'localhost';
}

function origin(scheme, host, port) {
  const defaultPort = scheme === 'https' ? 443 : 80;
  const shownHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${scheme}://${shownHost}${port === defaultPort ? '' : `:${port}`}`;
}

/**
 * @param {{ port: number, tls: boolean, bind?: string, publicUrl?: string, hostname?: string }} o
 * @returns {{ url: string, local: string, fromOtherComputers: boolean }}
 *   url: what to open (PORTAL_PUBLIC_URL, else this machine's name); local: the same on this
 *   machine; fromOtherComputers: false when the portal listens on loopback only.
 */
export function portalAddresses({ port, tls, bind, publicUrl, hostname }) {
  const scheme = tls ? 'https' : 'http';
  const local = origin(scheme, 'localhost', port);
  const fromOtherComputers = !isLoopbackBind(bind);
  if (publicUrl) return { url: publicUrl.replace(/\/+$/, ''), local, fromOtherComputers };
  if (!fromOtherComputers) return { url: local, local, fromOtherComputers };
  const host = bind && bind !== '0.0.0.0' && bind !== '::' ? bind : reachableHostName(hostname);
  return { url: origin(scheme, host, port), local, fromOtherComputers };
}

/** One line for people: where to open Raydesk, from this machine and from others. */
export function describePortal(addresses) {
  if (!addresses.fromOtherComputers)
    return `open ${addresses.url} (this machine only: PORTAL_BIND is a loopback address)`;
  const here = addresses.url === addresses.local ? '' : `; on this machine also ${addresses.local}`;
  return `open ${addresses.url} from any computer that reaches this machine by that name${here}`;
}
