// When and whether the viewer connects again. Every way a session can end is a `Disconnect`;
// `reconnects()` says which ones the viewer retries (anything but a takeover, a sign-out, an
// administrator's disconnect or a refusal), and `ReconnectPolicy` spaces the retries:
// exponential backoff with jitter, capped, reset once a session has lasted a while.
// First: the gateway protocol builds zod schemas (see zod-jitless.ts).
import '@raydesk/common/zod-jitless';
import { HANDSHAKE_ERRORS, type CloseReason } from '@raydesk/gateway/protocol';

/** getToken rejects with this when the portal refuses for good (not when it is unreachable). */
export class AttachRefusedError extends Error {
  constructor(
    /** `signed-out`: the portal answered 401; `no-access`: the VM is gone or not yours. */
    readonly reason: 'signed-out' | 'no-access',
    message: string,
  ) {
    super(message);
    this.name = 'AttachRefusedError';
  }
}

export type Disconnect =
  /** The gateway said why it ended the session (`session:closed`). */
  | { kind: 'closed'; reason: CloseReason }
  /** Another endpoint took the desktop over (`session:moved`). */
  | { kind: 'moved' }
  /** The person pressed Disconnect. */
  | { kind: 'user' }
  /** socket.io's disconnect reason: transport close or error, ping timeout, io server disconnect. */
  | { kind: 'transport'; reason: string }
  /** The handshake failed (`connect_error`): a refusal the gateway names, or a network error. */
  | { kind: 'handshake'; message: string }
  /** Fetching an attach token from the portal failed. */
  | { kind: 'token'; refused: AttachRefusedError['reason'] | null };

const REFUSALS = new Set<string>(HANDSHAKE_ERRORS);

export function reconnects(cause: Disconnect): boolean {
  switch (cause.kind) {
    case 'closed':
      return cause.reason === 'gateway-shutdown';
    case 'moved':
    case 'user':
      return false;
    case 'transport':
      // socket.io retries none of these itself once we own reconnection; all are worth it.
      return true;
    case 'handshake':
      return !REFUSALS.has(cause.message);
    case 'token':
      // Refused: signed out or no access. Otherwise the portal is down or unreachable.
      return cause.refused === null;
  }
}

export interface ReconnectPolicyOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** Each delay is spread by up to this share either way, so viewers do not retry in step. */
  jitter: number;
  /** A session that lasted at least this long starts the backoff over. */
  resetAfterMs: number;
}

export const DEFAULT_RECONNECT_POLICY: ReconnectPolicyOptions = {
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  factor: 2,
  jitter: 0.3,
  resetAfterMs: 15_000,
};

export class ReconnectPolicy {
  readonly options: ReconnectPolicyOptions;
  private attemptsValue = 0;

  constructor(
    options: Partial<ReconnectPolicyOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.options = { ...DEFAULT_RECONNECT_POLICY, ...options };
  }

  /** Failed attempts since the last good session (0 before the first). */
  get attempts(): number {
    return this.attemptsValue;
  }

  /** A fresh start (the person asked to connect). */
  reset(): void {
    this.attemptsValue = 0;
  }

  /**
   * Records a lost connection or a failed attempt; `sessionMs` is how long the session that
   * just ended lasted (0 for a failed attempt). Returns the delay before the next attempt.
   */
  nextDelay(sessionMs = 0): number {
    const { initialDelayMs, maxDelayMs, factor, jitter, resetAfterMs } = this.options;
    if (sessionMs >= resetAfterMs) this.attemptsValue = 0;
    this.attemptsValue++;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** (this.attemptsValue - 1));
    const spread = 1 - jitter + 2 * jitter * this.random();
    return Math.round(Math.min(maxDelayMs, base * spread));
  }
}
