// A viewer's socket.io connection to the gateway, as an attacker drives it: any handshake, any
// event, and a record of everything the gateway sent (so a test can say "no VM data came").
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';

export type AnySocket = Socket & { events: Array<{ event: string; value: unknown }> };

export function viewerSocket(
  url: string,
  auth: Record<string, unknown> | (() => Promise<Record<string, unknown>>),
): AnySocket {
  const socket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 20_000,
    auth: (cb) => {
      if (typeof auth === 'function') void auth().then(cb);
      else cb(auth);
    },
  }) as AnySocket;
  socket.events = [];
  socket.onAny((event: string, value: unknown) => socket.events.push({ event, value }));
  return socket;
}

/** The usual handshake of the portal's viewer. */
export function attachAuth(token: string, clientId = randomUUID()): Record<string, unknown> {
  return { token, clientId, protocol: 1 };
}

/** Resolves with 'ready' (session:ready), or the connect_error message. */
export function handshakeOutcome(socket: AnySocket, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no handshake outcome')), timeoutMs);
    const done = (v: string) => {
      clearTimeout(timer);
      resolve(v);
    };
    if (socket.events.some((e) => e.event === 'session:ready')) return done('ready');
    socket.once('session:ready', () => done('ready'));
    socket.once('connect_error', (e: Error) => done(e.message));
  });
}

/** The next `event` from now on. */
export function nextEvent<T = unknown>(
  socket: AnySocket,
  event: string,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    socket.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

export function disconnected(socket: AnySocket, timeoutMs = 10_000): Promise<string> {
  if (socket.disconnected && !socket.active) return Promise.resolve('already');
  return nextEvent<string>(socket, 'disconnect', timeoutMs);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until it holds or `timeoutMs` passes. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
