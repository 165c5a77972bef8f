// The viewer's states and the short status words for them, shared by the viewer's own status
// pill and the portal's viewer bar (ViewerHost) so the two always say the same thing.
import type { NoticeCode } from '@raydesk/gateway/protocol';

/**
 *   idle -> connecting -> connected <-> waiting (attached, desktop away: host restarting, booting)
 *                  \          |
 *                   \-> reconnecting (lost; retrying with backoff) -> connected
 *   ... -> moved-elsewhere | disconnected | error (these stay until the person acts)
 */
export type ViewerState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'waiting'
  | 'reconnecting'
  | 'moved-elsewhere'
  | 'disconnected'
  | 'error';

export interface ViewerStateDetail {
  message?: string;
  /** moved-elsewhere: who took over. */
  by?: string;
  /** Why: the gateway's close reason, socket.io's disconnect reason, `signed-out`, ... */
  reason?: string;
  mode?: 'control' | 'view';
  /** waiting: the gateway's notice. */
  notice?: NoticeCode;
  /** reconnecting: when the next attempt starts (0: now). */
  retryInMs?: number;
}

const STATE_TEXT: Record<ViewerState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  waiting: 'Waiting for the desktop…',
  reconnecting: 'Reconnecting…',
  'moved-elsewhere': 'Opened elsewhere',
  disconnected: 'Disconnected',
  error: 'Cannot connect',
};

const NOTICE_TEXT: Record<NoticeCode, string> = {
  'host-unreachable': 'Host unreachable',
  'host-restarted': 'Host restarted',
  'desktop-starting': 'Starting desktop…',
  'desktop-stopped': 'Desktop stopped',
  'desktop-ready': 'Connected',
};

export function statusText(state: ViewerState, detail: ViewerStateDetail = {}): string {
  if (state === 'waiting' && detail.notice) return NOTICE_TEXT[detail.notice];
  if (state === 'disconnected' && detail.reason === 'signed-out') return 'Signed out';
  return STATE_TEXT[state];
}
