// The service credential other Raydesk parts present to the portal (the gateway's session
// events, operators' health checks): `Authorization: Bearer $GATEWAY_SECRET`.
import { createHash, timingSafeEqual } from 'node:crypto';
import { config } from '../config.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function hasServiceBearer(headers: Headers): boolean {
  const match = /^Bearer (.+)$/i.exec(headers.get('authorization') ?? '');
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  return !!match && timingSafeEqual(digest(match[1]!), digest(config().GATEWAY_SECRET));
}
