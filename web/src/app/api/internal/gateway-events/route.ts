import type { NextRequest } from 'next/server';
import { gatewayEventSchema } from '@raydesk/gateway/internal';
import { hasServiceBearer } from '@/server/auth/service';
import { db } from '@/server/db';
import { HttpError, json, parseBody, route } from '@/server/http';
import { recordGatewayEvent } from '@/server/connections';

/** Session events from the display gateway (bearer GATEWAY_SECRET). */
export const POST = route(async (req: NextRequest) => {
  if (!hasServiceBearer(req.headers))
    throw new HttpError(401, 'unauthenticated', 'Bad gateway credential.');
  const event = await parseBody(req, gatewayEventSchema);
  await recordGatewayEvent(db(), event);
  return json({ ok: true });
});
