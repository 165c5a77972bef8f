/// <reference lib="dom" />
// The early attach as a page's own script, ahead of the viewer's. The portal's desktop page
// inlines it as an async module, which runs as soon as the parser reaches it (a classic script
// would wait for the page's stylesheet):
//   <script type="module" async data-early-attach data-vm=… data-gateway-url=… data-path=…
//     data-token=…>…</script>
// The browser tests' page loads it as <script src="/viewer-early.js" data-vm=…>. The viewer that
// mounts later adopts the connection (early-attach.ts).
import { startEarlyAttach, viewerStarted } from './early-attach.ts';

// A module script has no document.currentScript.
const element =
  (document.currentScript as HTMLScriptElement | null) ??
  document.querySelector<HTMLScriptElement>('script[data-early-attach]');
const attributes = element?.dataset;
if (
  attributes?.vm &&
  attributes.gatewayUrl &&
  attributes.path &&
  attributes.token &&
  !viewerStarted(attributes.vm)
) {
  startEarlyAttach({
    vmId: attributes.vm,
    gatewayUrl: attributes.gatewayUrl,
    path: attributes.path,
    token: attributes.token,
    ...(attributes.adoptWithinMs ? { adoptWithinMs: Number(attributes.adoptWithinMs) } : {}),
  });
}
