// The domain lifecycle as an explicit state machine. Every operation names the states it may
// start from; anything else is refused with an IllegalTransitionError the API reports as is.
import type { DomainState } from '../api/protocol.ts';

export const TRANSITIONS: Readonly<Record<DomainState, readonly DomainState[]>> = {
  starting: ['running', 'crashed', 'stopped'],
  running: ['paused', 'saving', 'starting', 'crashed', 'stopped'],
  paused: ['running', 'saving', 'starting', 'crashed', 'stopped'],
  saving: ['saved', 'running', 'paused', 'crashed', 'stopped'],
  saved: ['starting', 'stopped'],
  crashed: ['starting', 'stopped'],
  stopped: [],
};

/** Which states each operation may be asked of. */
export const OPERATION_FROM: Readonly<Record<string, readonly DomainState[]>> = {
  pause: ['running'],
  unpause: ['paused'],
  reboot: ['running', 'paused'],
  save: ['running', 'paused'],
  start: ['crashed', 'saved'],
  destroy: ['starting', 'running', 'paused', 'saving', 'saved', 'crashed'],
  watch: ['starting', 'running', 'paused', 'saving'],
  screenshot: ['running', 'paused', 'saving'],
  input: ['running'],
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly domainId: string,
    readonly operation: string,
    readonly state: DomainState,
  ) {
    const allowed = OPERATION_FROM[operation]?.join(', ') ?? 'no state';
    super(`cannot ${operation} domain ${domainId} while it is ${state} (allowed from: ${allowed})`);
    this.name = 'IllegalTransitionError';
  }
}

export function assertOperation(domainId: string, operation: string, state: DomainState): void {
  if (!OPERATION_FROM[operation]?.includes(state)) {
    throw new IllegalTransitionError(domainId, operation, state);
  }
}

export function assertTransition(domainId: string, from: DomainState, to: DomainState): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw new IllegalTransitionError(domainId, `move to ${to}`, from);
  }
}

/** States in which a domain's worker holds guest RAM. */
export function holdsMemory(state: DomainState): boolean {
  return state === 'starting' || state === 'running' || state === 'paused' || state === 'saving';
}
