// The CLI's listen-address arguments: `PORT`, `HOST:PORT` or `[IPV6]:PORT`, validated with the
// control channel's own schema. The host is left out when the text names only a port.
import { z } from 'zod';
import { listenAddressSchema } from '../api/protocol.ts';

const portText = z.coerce.number().int().min(0).max(65535);

export type ListenArgument =
  { ok: true; value: { host?: string; port: number } } | { ok: false; error: string };

export function parseListenArgument(text: string): ListenArgument {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (!match) return { ok: false, error: 'expected PORT, HOST:PORT or [IPV6]:PORT' };
  const host = match[1] || match[2] || undefined;
  const port = portText.safeParse(match[3]);
  if (!port.success) return { ok: false, error: 'the port must be 0 to 65535' };
  if (host === undefined) return { ok: true, value: { port: port.data } };
  const parsed = listenAddressSchema.safeParse({ host, port: port.data });
  if (!parsed.success) return { ok: false, error: 'the host must be an IP address' };
  return { ok: true, value: parsed.data };
}
