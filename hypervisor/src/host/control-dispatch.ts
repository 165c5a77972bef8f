// The one place where requests on the control channel are validated: each call's request and
// each input event is parsed with its schema from the contract (api/contract.ts) before its
// handler sees it. A call is answered `Result<response>`; an invalid input event is dropped.
import type pino from 'pino';
import type { Socket } from 'socket.io';
import { z } from 'zod';
import {
  controlCalls,
  controlInputs,
  type CallHandlers,
  type CallResponse,
  type ControlCall,
  type ControlClientToServerUnchecked,
  type ControlInput,
  type ControlServerToClient,
  type InputHandlers,
} from '../api/contract.ts';
import type { Result } from '../api/protocol.ts';
import { toApiError } from './errors.ts';

export type ControlSocket = Socket<ControlClientToServerUnchecked, ControlServerToClient>;

/** Answers every call and input event of the contract on `socket` with its handler. */
export function serveContract<Connection>(
  socket: ControlSocket,
  handlers: { calls: CallHandlers<Connection>; inputs: InputHandlers<Connection> },
  connection: Connection,
  log: pino.Logger,
): void {
  for (const name of Object.keys(controlCalls) as ControlCall[]) {
    socket.on(name, (request: unknown, ack: unknown) => {
      // A call without a callback cannot be answered: nobody waits for it.
      if (typeof ack !== 'function') return;
      void answer(name, request, handlers.calls, connection, log).then((result) => ack(result));
    });
  }
  for (const name of Object.keys(controlInputs) as ControlInput[]) {
    socket.on(name, (event: unknown) => apply(name, event, handlers.inputs, connection, log));
  }
}

/** Parses a call's request with its schema and runs its handler; never throws. */
export async function answer<K extends ControlCall, Connection>(
  name: K,
  request: unknown,
  calls: CallHandlers<Connection>,
  connection: Connection,
  log: pino.Logger,
): Promise<Result<Awaited<CallResponse<K>>>> {
  const parsed = controlCalls[name].request.safeParse(request);
  if (!parsed.success) {
    return { ok: false, error: { code: 'bad_request', message: z.prettifyError(parsed.error) } };
  }
  try {
    return { ok: true, value: await calls[name](parsed.data, connection) };
  } catch (error) {
    const apiError = toApiError(error);
    if (apiError.code === 'internal') log.error({ err: error, call: name }, 'request failed');
    return { ok: false, error: apiError };
  }
}

/** Parses an input event with its schema and applies it; an invalid one is logged and dropped. */
export function apply<K extends ControlInput, Connection>(
  name: K,
  event: unknown,
  inputs: InputHandlers<Connection>,
  connection: Connection,
  log: pino.Logger,
): void {
  const parsed = controlInputs[name].safeParse(event);
  if (!parsed.success) {
    log.warn({ event: name, issues: parsed.error.issues.length }, 'invalid input event dropped');
    return;
  }
  inputs[name](parsed.data, connection);
}
