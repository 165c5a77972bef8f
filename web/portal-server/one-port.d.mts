import type { IncomingMessage, RequestListener, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export declare function isInternalConnection(socket: Socket): boolean;
export declare function httpsLocation(
  host: string | undefined,
  path: string | undefined,
): string | null;
export declare function createOnePortServer(options: {
  httpsServer: HttpsServer;
  onPlainRequest: RequestListener;
  onPlainUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}): { server: NetServer; httpServer: HttpServer; closeConnections(): void };
