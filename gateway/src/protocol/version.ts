// The browser protocol's version, apart from its schemas: a page states it without loading zod.
/** Bumped on any incompatible change; sent by the viewer in the handshake. */
export const PROTOCOL_VERSION = 1;
