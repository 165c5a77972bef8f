// The other live hosts of this host's fleet, as the parts that fetch from them see them: golden
// snapshots (snapshots/golden-peers.ts) and appliance images (appliances/image-peers.ts).

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
