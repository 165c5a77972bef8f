'use client';
// React wrapper around RemoteViewer. Mount it in a sized box; it fills it.
import { useEffect, useRef } from 'react';
import {
  RemoteViewer,
  type AttachTicket,
  type ViewerState,
  type ViewerStateDetail,
} from '@raydesk/viewer';
import type { Viewer } from '@raydesk/gateway/protocol';

export interface RemoteDesktopProps {
  /** Hypervisor domain id (the token's `vm` claim). */
  vmId: string;
  /**
   * Reject with AttachRefusedError when the portal refuses; other failures are retried. A
   * ticket naming a gateway sends that attempt there (a fleet).
   */
  getToken: () => Promise<string | AttachTicket>;
  /** A ticket that came with the page, for the first attach (then getToken). */
  initialTicket?: AttachTicket;
  gatewayUrl: string;
  /** Offered as "Sign in" when the portal says the person is signed out. */
  onSignIn?: () => void;
  /** socket.io path (default /socket.io; the portal proxies the gateway on its own path). */
  gatewayPath?: string;
  onStateChange?: (state: ViewerState, detail?: ViewerStateDetail) => void;
  onWatchers?: (viewers: Viewer[]) => void;
  /** Hide the built-in toolbar (default shown). */
  toolbar?: boolean;
  className?: string;
  style?: React.CSSProperties;
}

export function RemoteDesktop(props: RemoteDesktopProps) {
  const box = useRef<HTMLDivElement>(null);
  // Callbacks change identity across renders; read them through a ref.
  const latest = useRef(props);
  latest.current = props;
  const { vmId, gatewayUrl, gatewayPath, toolbar } = props;
  // Only the first mount may use the page's ticket: a token attaches once.
  const initialTicket = useRef(props.initialTicket);

  useEffect(() => {
    const container = box.current;
    if (!container) return;
    const viewer = new RemoteViewer(container, {
      vmId,
      gatewayUrl,
      path: gatewayPath,
      toolbar,
      initialTicket: initialTicket.current,
      getToken: () => latest.current.getToken(),
      onSignIn: () => latest.current.onSignIn?.(),
      onStateChange: (state, detail) => latest.current.onStateChange?.(state, detail),
      onWatchers: (viewers) => latest.current.onWatchers?.(viewers),
    });
    initialTicket.current = undefined;
    viewer.connect();
    viewer.focus();
    return () => viewer.destroy();
  }, [vmId, gatewayUrl, gatewayPath, toolbar]);

  return (
    <div
      ref={box}
      className={props.className}
      style={{ width: '100%', height: '100%', minHeight: 240, ...props.style }}
    />
  );
}

export default RemoteDesktop;
