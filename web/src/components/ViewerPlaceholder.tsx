'use client';
// Stands in for web/src/viewer/RemoteDesktop.tsx until the viewer is built.
import { useEffect } from 'react';

interface Props {
  vmId: string;
  getToken: () => Promise<string>;
  gatewayUrl: string;
  gatewayPath?: string;
  onStateChange?: (state: string) => void;
}

export function RemoteDesktop({ vmId, getToken, onStateChange }: Props) {
  useEffect(() => {
    onStateChange?.('unavailable');
    void getToken().catch(() => undefined);
  }, [vmId, getToken, onStateChange]);
  return (
    <div className="viewer-overlay">
      <div className="box">
        <h2>The viewer is not installed</h2>
        <p>
          This build of the portal has no remote-desktop viewer yet. The VM is running; it will be
          shown here once the viewer is part of the build.
        </p>
      </div>
    </div>
  );
}

export default RemoteDesktop;
