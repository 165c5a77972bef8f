// The other live hosts of this host's fleet, as the parts that fetch from them see them: golden
// snapshots (snapshots/golden-peers.ts) and appliance images (appliances/image-peers.ts).
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applianceNameSchema, type ApplianceName } from './api/protocol.ts';

/** A peer host, by its control URL (its HTTP server answers /golden/... and /image/...). */
export interface PeerHost {
  id: string;
  url: string;
}

/** Live peers of this host, least loaded first, and the credential they accept. */
export interface PeerHosts {
  peers(): Promise<PeerHost[]>;
  secret: string;
}

/** The bearer header a peer accepts. */
export function peerHeaders(peers: PeerHosts): Record<string, string> {
  return { authorization: `Bearer ${peers.secret}` };
}

/** `path` on the peer's control URL. */
export function peerUrl(peer: PeerHost, path: string): URL {
  return new URL(path, peer.url.endsWith('/') ? peer.url : `${peer.url}/`);
}

/** What a host offers its peers for one appliance: a JSON description and files by name. */
export interface PeerOffer {
  json: unknown;
  file(name: string): { path: string; bytes: number } | null;
}

/**
 * Answers `GET <route>` for peers, where `route` captures the appliance and optionally a file
 * name: false for any other request; 401 without the credential (`authorized` checks the bearer,
 * the caller owns the constant-time comparison); 404 when `find` has nothing for it; else the
 * offer's JSON, or the file's bytes.
 */
export async function servePeerRoute(
  route: { path: RegExp; find: (appliance: ApplianceName) => Promise<PeerOffer | null> },
  authorized: (req: IncomingMessage) => boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const match = route.path.exec(new URL(req.url ?? '/', 'http://host').pathname);
  if (!match || req.method !== 'GET') return false;
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  if (!authorized(req)) {
    json(401, { error: 'unauthorized' });
    return true;
  }
  const appliance = applianceNameSchema.safeParse(match[1]);
  const offer = appliance.success ? await route.find(appliance.data) : null;
  const file = match[2] ? offer?.file(match[2]) : null;
  if (!offer || (match[2] && !file)) {
    json(404, { error: `nothing of that kind for ${match[1]} here` });
    return true;
  }
  if (!file) {
    json(200, offer.json);
    return true;
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(file.bytes),
  });
  createReadStream(file.path)
    .on('error', () => res.destroy())
    .pipe(res);
  return true;
}
