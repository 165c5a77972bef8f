// Caps on viewer sessions, checked at the socket.io handshake: at most `maxPerUser` sessions per
// user (token `sub`) and `maxPerVm` per VM. Each costs the gateway an encoder and its buffers
// (25 sessions of one VM once grew it by ~100 MiB), so without caps one user could exhaust it.
// Handshakes in flight hold a reservation from the check until their socket attaches or closes,
// so a burst of simultaneous handshakes cannot slip past the check together.
// A VM has at most one control session: a control attach replaces it (takeover or resume). So
// the VM's place for its controller is kept free (view sessions get `maxPerVm - 1`), a control
// attach is never refused for the VM, and the session it replaces does not count for its user.
import type { HandshakeError } from '../protocol/browser.ts';
import type { AttachClaims } from '../protocol/internal.ts';

export interface SessionLimits {
  maxPerUser: number;
  maxPerVm: number;
}

/** Defaults: a controller plus 5 shadows per VM; a user's desktop and browsers in a few tabs. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { maxPerUser: 8, maxPerVm: 6 };

export type SessionLimitRefusal = Extract<
  HandshakeError,
  'too_many_sessions_user' | 'too_many_sessions_vm'
>;

/** What admission needs to know of a live session. */
export interface LiveSession {
  userId: string;
  vm: string;
  mode: 'control' | 'view';
}

type Claims = Pick<AttachClaims, 'sub' | 'vm' | 'mode'>;

export class SessionAdmission {
  private readonly pending = new Map<string, Claims>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly live: () => Iterable<LiveSession>,
  ) {}

  /** Reserves a place for handshake `ticket`, or says which cap it would break. */
  admit(ticket: string, claims: Claims): SessionLimitRefusal | null {
    let forUser = 0;
    let viewsOfVm = 0;
    const count = (s: LiveSession) => {
      if (s.userId === claims.sub) forUser++;
      if (s.vm === claims.vm && s.mode === 'view') viewsOfVm++;
    };
    for (const s of this.live()) {
      const replaced = claims.mode === 'control' && s.mode === 'control' && s.vm === claims.vm;
      if (!replaced) count(s);
    }
    for (const [other, c] of this.pending) {
      if (other !== ticket) count({ userId: c.sub, vm: c.vm, mode: c.mode });
    }
    if (claims.mode === 'view' && viewsOfVm >= this.limits.maxPerVm - 1) {
      return 'too_many_sessions_vm';
    }
    if (forUser >= this.limits.maxPerUser) return 'too_many_sessions_user';
    this.pending.set(ticket, claims);
    return null;
  }

  /** The handshake attached (it now counts as a live session) or its socket closed. */
  settle(ticket: string): void {
    this.pending.delete(ticket);
  }

  get reserved(): number {
    return this.pending.size;
  }
}
