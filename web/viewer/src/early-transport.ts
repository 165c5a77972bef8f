// The socket.io transport that adopts an early attach (early-attach.ts): engine.io-client's own
// WebSocket transport, given the connection that is already open instead of a new one.
import { WebSocket as WebSocketTransport } from 'engine.io-client';
import type { EarlyAttach } from './early-attach.ts';

export function adoptingTransport(early: EarlyAttach): typeof WebSocketTransport {
  return class AdoptingWebSocket extends WebSocketTransport {
    override createSocket(
      uri: string,
      protocols: string | string[] | undefined,
      opts: Record<string, unknown>,
    ): unknown {
      return early.matches(uri) ? early.adopt() : super.createSocket(uri, protocols, opts);
    }
  };
}
