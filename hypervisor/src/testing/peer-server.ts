// A peer host's HTTP server for tests of what hosts fetch from each other (golden snapshots,
// images): serves one route with a bearer secret, and can corrupt the files it sends.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PeerHosts } from '../peer-hosts.ts';

export type PeerRoute = (
  authorized: (req: IncomingMessage) => boolean,
  req: IncomingMessage,
  res: ServerResponse,
) => Promise<boolean>;

export interface TestPeer {
  url: string;
  /** While true, the last byte of each chunk of a response whose URL ends in `corruptSuffix` is flipped. */
  corrupt: boolean;
  /** The peer list a fetching host sees: an unreachable peer first, then this one. */
  peers(secret?: string): PeerHosts;
  close(): Promise<void>;
}

export async function startTestPeer(
  route: PeerRoute,
  secret: string,
  corruptSuffix: string,
): Promise<TestPeer> {
  const server = createServer((req, res) => {
    const write = res.write.bind(res);
    if (peer.corrupt && req.url?.endsWith(corruptSuffix)) {
      res.write = ((chunk: Buffer, ...rest: never[]) => {
        const copy = Buffer.from(chunk);
        copy[copy.length - 1] = copy[copy.length - 1]! ^ 0xff;
        return write(copy, ...rest);
      }) as typeof res.write;
    }
    void route((r) => r.headers.authorization === `Bearer ${secret}`, req, res).then((served) => {
      if (!served) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const peer: TestPeer = {
    url,
    corrupt: false,
    peers: (withSecret = secret) => ({
      secret: withSecret,
      peers: async () => [
        { id: 'gone', url: 'http://127.0.0.1:1' },
        { id: 'peer', url },
      ],
    }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return peer;
}
