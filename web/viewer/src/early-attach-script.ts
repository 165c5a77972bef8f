/// <reference lib="dom" />
// The early attach as a page's own script, ahead of the viewer's: the portal's desktop page (and
// the browser tests' page) load it as
//   <script src="/early-attach.js" data-vm=… data-gateway-url=… data-path=… data-token=…>
// and the viewer that mounts later adopts the connection (early-attach.ts).
import { startEarlyAttach } from './early-attach.ts';

const attributes = (document.currentScript as HTMLScriptElement | null)?.dataset;
if (attributes?.vm && attributes.gatewayUrl && attributes.path && attributes.token) {
  startEarlyAttach({
    vmId: attributes.vm,
    gatewayUrl: attributes.gatewayUrl,
    path: attributes.path,
    token: attributes.token,
    ...(attributes.adoptWithinMs ? { adoptWithinMs: Number(attributes.adoptWithinMs) } : {}),
  });
}
