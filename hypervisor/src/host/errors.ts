import type { ApiError, ErrorCode } from '../api/protocol.ts';
import { IllegalTransitionError } from './lifecycle.ts';

/** An error the control channel reports to clients with a code and a plain message. */
export class HostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

/** The domain is not running (any more): refused as an illegal transition, not a failure. */
export function notRunning(domain: { readonly id: string; readonly state: string }): HostError {
  return new HostError('illegal_transition', `domain ${domain.id} is ${domain.state}, not running`);
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof HostError) return { code: error.code, message: error.message };
  if (error instanceof IllegalTransitionError) {
    return { code: 'illegal_transition', message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message: message.split('\n')[0] ?? 'internal error' };
}
