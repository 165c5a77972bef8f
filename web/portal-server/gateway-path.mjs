// The path on the portal's own origin where browsers reach the gateway's socket.io. The portal
// server (gateway-proxy.mjs) forwards exactly this path to the gateway's /socket.io/; the viewer
// connects to it unless GATEWAY_PUBLIC_URL sends browsers to a gateway directly.
export const GATEWAY_SOCKET_PATH = '/gateway/socket.io';
