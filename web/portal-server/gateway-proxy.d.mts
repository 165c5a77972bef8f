import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

export declare const UPGRADE_TIMEOUT_MS: number;
export declare const POLL_TIMEOUT_MS: number;
export declare const IDLE_TIMEOUT_MS: number;
export declare function gatewayTargetPath(requestUrl: string | undefined): string | null;
export declare function gatewayRoute(
  requestUrl: string | undefined,
): { gatewayId: string | null; path: string } | null;
export declare function isGatewayArea(requestUrl: string | undefined): boolean;

export interface GatewayProxy {
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export declare function createGatewayProxy(options: {
  target: string;
  log: Logger;
  upgradeTimeoutMs?: number;
  resolveGateway?: (gatewayId: string) => Promise<string | null>;
}): GatewayProxy;
