// The part of @mercuryworkshop/wisp-js's server entry point that the switch uses (the package
// ships no types).
declare module '@mercuryworkshop/wisp-js/server' {
  import type { WebSocket } from 'ws';

  /** The socket interface wisp-js drives for each stream; see switch.ts. */
  export interface WispStreamSocket {
    readonly hostname: string;
    readonly port: number;
    connect(): Promise<void>;
    recv(): Promise<Uint8Array | null>;
    send(data: Uint8Array): Promise<void>;
    close(): Promise<void>;
    pause(): void;
    resume(): void;
  }
  export type WispStreamSocketClass = new (hostname: string, port: number) => WispStreamSocket;

  export interface ServerConnectionOptions {
    TCPSocket?: WispStreamSocketClass;
    UDPSocket?: WispStreamSocketClass;
    ping_interval?: number;
    wisp_version?: 1 | 2;
  }

  export interface ServerConnection {
    setup(): Promise<void>;
    run(): Promise<void>;
  }

  export const server: {
    ServerConnection: new (
      ws: WebSocket,
      path: string,
      options?: ServerConnectionOptions,
    ) => ServerConnection;
    options: {
      allow_private_ips: boolean;
      allow_loopback_ips: boolean;
      allow_direct_ip: boolean;
      allow_udp_streams: boolean;
      allow_tcp_streams: boolean;
      parse_real_ip: boolean;
      wisp_version: number;
    };
  };
  export const logging: { NONE: number; ERROR: number; set_level(level: number): void };
}
