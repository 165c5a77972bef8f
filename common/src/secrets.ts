// The shared secrets and the one rule each must meet. Every process that reads a secret checks
// it with `secretSchema`, so a value one part accepts is never refused by another.
import * as z from 'zod';

/** Fewest characters each secret may have. */
export const SECRET_MIN_LENGTH = {
  /** Service credential of the hypervisor's control channel and /metrics. */
  HYPERVISOR_SECRET: 8,
  /** Service credential of the gateway's internal API, /metrics and its calls to the portal. */
  GATEWAY_SECRET: 16,
  /** HS256 key of the portal's attach tokens, verified by the gateway: 256 bits or more. */
  ATTACH_TOKEN_SECRET: 32,
  /** HS256 key of the portal's access tokens. */
  SESSION_SECRET: 16,
} as const;
export type SecretName = keyof typeof SECRET_MIN_LENGTH;

export function secretSchema(name: SecretName) {
  const min = SECRET_MIN_LENGTH[name];
  return z
    .string({ error: `${name} is not set` })
    .min(min, `${name} must be at least ${min} characters`);
}
