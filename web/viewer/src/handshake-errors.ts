// What the viewer says when the gateway refuses its handshake (socket.io `connect_error`).
import { HANDSHAKE_ERRORS, type HandshakeError } from '@raydesk/gateway/protocol';

const TEXT: Record<HandshakeError, string> = {
  unauthorized: 'The gateway refused access to this desktop.',
  token_expired: 'The permission to open this desktop expired. Reload the page.',
  bad_handshake: 'The gateway did not understand this viewer. Reload the page.',
  protocol_mismatch: 'This viewer is out of date. Reload the page.',
  too_many_sessions_vm: 'Too many open viewers for this desktop; close one and try again.',
  too_many_sessions_user: 'You have too many desktop viewers open; close one and try again.',
};

export function handshakeErrorText(code: string): string {
  return (HANDSHAKE_ERRORS as readonly string[]).includes(code)
    ? TEXT[code as HandshakeError]
    : `Cannot connect: ${code}`;
}
