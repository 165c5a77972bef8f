'use client';
// Full-window frame around the remote-desktop viewer: a slim bar, notices (disposable,
// shadowing, being watched), attach tokens from the portal, and for disposable VMs the
// heartbeat / tab-close signals that drive their clean-up.
import {
  AttachRefusedError,
  statusText,
  type AttachTicket,
  type ViewerState,
  type ViewerStateDetail,
} from '@raydesk/viewer';
import Link from 'next/link';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, signInUrl } from '@/lib/api';
import { dateTime } from '@/lib/format';
import { Eye, Globe, Logo, Monitor } from './icons';
import { RemoteDesktop } from './RemoteDesktop';

export interface ViewerHostProps {
  /** Portal VM id (for the portal's APIs). */
  vmId: string;
  /** The hypervisor domain id: what the gateway and the attach token call the VM. */
  domainId: string;
  kind: 'personal' | 'disposable' | 'shadow';
  title: string;
  /** Where the viewer opens the gateway's socket.io (server/gateway.ts gatewayEndpoint). */
  gateway: { url: string; path: string };
  /** The first attach token and its gateway, rendered with the page (server/attach-ticket.ts). */
  ticket?: AttachTicket | null;
  expiresAt?: string | null;
  graceSeconds?: number;
  ownerEmail?: string;
  /** Who views this desktop as the page was rendered (server/home.ts vmWatchers). */
  watchers?: string[];
}

export function ViewerHost(props: ViewerHostProps) {
  const { vmId, kind } = props;
  const [status, setStatus] = useState(statusText('connecting'));
  // The first attempt's default; each ticket names the gateway it is for.
  const { gateway } = props;
  const [watchers, setWatchers] = useState<string[]>(props.watchers ?? []);

  // Every (re)connect asks for a fresh token, and the gateway to use it on: in a fleet the portal
  // hands out a live gateway each time, so a viewer whose gateway was lost comes back through
  // another by itself. A refusal stops the viewer and says why; the portal being down or
  // unreachable is retried by the viewer.
  const getToken = useCallback(async () => {
    let r: { token: string; gatewayUrl: string; gatewayPath: string };
    try {
      r = await api<{ token: string; gatewayUrl: string; gatewayPath: string }>(
        `/api/vms/${vmId}/attach-token`,
        { body: { mode: kind === 'shadow' ? 'view' : 'control' }, redirectOnSignOut: false },
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 401)
        throw new AttachRefusedError(
          'signed-out',
          'You were signed out. Sign in again to reconnect.',
        );
      if (error instanceof ApiError && (error.status === 403 || error.status === 404))
        throw new AttachRefusedError('no-access', error.message);
      throw error;
    }
    return { token: r.token, gatewayUrl: r.gatewayUrl, path: r.gatewayPath };
  }, [vmId, kind]);

  const onStateChange = useCallback(
    // The viewer's own status words, so the bar and the viewer's pill agree.
    (state: ViewerState, detail?: ViewerStateDetail) => setStatus(statusText(state, detail)),
    [],
  );
  const onSignIn = useCallback(() => window.location.assign(signInUrl()), []);

  // Disposable VMs: heartbeat while open; tell the portal when the tab goes away.
  useEffect(() => {
    if (kind !== 'disposable') return;
    const beat = () =>
      void api(`/api/vms/${vmId}/heartbeat`, { method: 'POST' }).catch(() => undefined);
    beat();
    const timer = setInterval(beat, 15_000);
    const release = () => navigator.sendBeacon(`/api/vms/${vmId}/release`);
    window.addEventListener('pagehide', release);
    return () => {
      clearInterval(timer);
      window.removeEventListener('pagehide', release);
    };
  }, [kind, vmId]);

  // Own desktop: show when an administrator is watching. The page comes with who watches now;
  // no call at mount, where it would compete with the viewer's socket upgrade the portal proxies.
  useEffect(() => {
    if (kind === 'shadow') return;
    const check = async () => {
      try {
        const me = await api<{ watchedBy: { vmId: string | null; admin: string }[] }>('/api/me');
        setWatchers(me.watchedBy.filter((w) => w.vmId === vmId).map((w) => w.admin));
      } catch {
        /* the viewer shows connection problems itself */
      }
    };
    const timer = setInterval(() => void check(), 10_000);
    return () => clearInterval(timer);
  }, [kind, vmId]);

  return (
    <div className="viewer-shell">
      <div className="viewer-bar">
        <Link href="/" className="brand" style={{ fontSize: 14 }} title="Back to the portal">
          <span className="brand-mark" style={{ width: 22, height: 22, borderRadius: 6 }}>
            <Logo size={13} />
          </span>
        </Link>
        {kind === 'disposable' ? (
          <Globe size={16} />
        ) : kind === 'shadow' ? (
          <Eye size={16} />
        ) : (
          <Monitor size={16} />
        )}
        <strong style={{ color: '#fff' }}>{props.title}</strong>
        <span className="faint" data-testid="viewer-state">
          {status}
        </span>
        <span className="spacer" />
        {kind === 'disposable' && props.expiresAt && (
          <span className="faint">Ends by {dateTime(props.expiresAt)}</span>
        )}
        <Link className="btn" href="/">
          Back to portal
        </Link>
      </div>
      {kind === 'disposable' && (
        <div className="viewer-notice" role="note">
          <Globe size={16} /> Disposable browser: its disk is wiped and nothing is kept when it
          closes, and its network access is filtered. It is destroyed when you sign out,{' '}
          {props.graceSeconds
            ? `${props.graceSeconds} seconds after you close this tab,`
            : 'shortly after you close this tab,'}{' '}
          or at its time limit.
        </div>
      )}
      {kind === 'shadow' && (
        <div className="viewer-notice watched" role="note">
          <Eye size={16} /> View only: you are watching {props.ownerEmail ?? 'this user'}&apos;s
          screen. Your input is not sent, this is audited, and the user is told.
        </div>
      )}
      {watchers.length > 0 && (
        <div className="viewer-notice watched" role="status">
          <Eye size={16} /> {watchers.join(', ')} (administrator) is viewing this desktop,
          read-only.
        </div>
      )}
      <div className="viewer-stage">
        <RemoteDesktop
          vmId={props.domainId}
          getToken={getToken}
          gatewayUrl={gateway.url}
          gatewayPath={gateway.path}
          initialTicket={props.ticket ?? undefined}
          onStateChange={onStateChange}
          onSignIn={onSignIn}
        />
      </div>
    </div>
  );
}
