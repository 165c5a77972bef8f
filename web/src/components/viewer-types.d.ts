// The viewer component (web/src/viewer/RemoteDesktop.tsx, written with the gateway) is reached
// through the alias '@raydesk/viewer' (next.config.ts), which falls back to ViewerPlaceholder
// while that file does not exist yet.
declare module '@raydesk/viewer' {
  import type { ComponentType } from 'react';
  export interface RemoteDesktopProps {
    vmId: string;
    getToken: () => Promise<string>;
    gatewayUrl: string;
    gatewayPath?: string;
    onStateChange?: (state: string, detail?: unknown) => void;
    onSignIn?: () => void;
  }
  export const RemoteDesktop: ComponentType<RemoteDesktopProps>;
  const Default: ComponentType<RemoteDesktopProps>;
  export default Default;
}
