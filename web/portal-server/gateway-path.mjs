// The path on the portal's own origin where browsers reach the gateway's socket.io. The portal
// server (gateway-proxy.mjs) forwards exactly this path to the gateway's /socket.io/; the viewer
// connects to it unless GATEWAY_PUBLIC_URL sends browsers to a gateway directly.
export const GATEWAY_SOCKET_PATH = '/gateway/socket.io';

/** Gateway ids as a fleet's registry has them (the gateway's GATEWAY_ID rule). */
export const GATEWAY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * In a fleet: the path that reaches one gateway through the portal, `/gateway/<id>/socket.io`.
 * @param {string} gatewayId
 */
export function fleetGatewaySocketPath(gatewayId) {
  if (!GATEWAY_ID_PATTERN.test(gatewayId)) throw new Error(`bad gateway id: ${gatewayId}`);
  return `/gateway/${gatewayId}/socket.io`;
}
