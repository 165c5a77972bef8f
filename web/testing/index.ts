// Harnesses for tests and benchmarks outside the portal (e2e/, security/, bench/): the real
// portal on a throwaway database, what they need to seed it, and a test certificate.
export * from './portal-server.ts';
export * from './self-signed.ts';
export { hashPassword } from '../src/server/auth/password.ts';
export { setupDatabase } from '../scripts/db-setup.ts';
export { GATEWAY_SOCKET_PATH } from '../portal-server/gateway-path.mjs';
export { authenticatorCode } from './authenticator.ts';
export * from './oidc-provider.ts';
export {
  openTransaction as openOidcTransaction,
  sealTransaction as sealOidcTransaction,
  TRANSACTION_COOKIE as OIDC_TRANSACTION_COOKIE,
} from '../src/server/auth/oidc/provider.ts';
