import { timingSafeEqual } from 'node:crypto';
import type { NextRequest } from 'next/server';
import { gatewayEventSchema } from '@raydesk/gateway/internal';
import { config } from '@/server/config';
import { db } from '@/server/db';
import { HttpError, json, parseBody, route } from '@/server/http';
import { recordGatewayEvent } from '@/server/connections';

function bearerOk(req: NextRequest): boolean {
  const header = req.headers.get('authorization') ?? '';
  const given = Buffer.from(header.replace(/^Bearer\s+/i, ''));
  const expected = Buffer.from(config().GATEWAY_SECRET);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Session events from the display gateway (bearer GATEWAY_SECRET). */
export const POST = route(async (req: NextRequest) => {
  if (!bearerOk(req)) throw new HttpError(401, 'unauthenticated', 'Bad gateway credential.');
  const event = await parseBody(req, gatewayEventSchema);
  await recordGatewayEvent(db(), event);
  return json({ ok: true });
});
