import type { NextRequest } from 'next/server';
import { hasServiceBearer } from '@/server/auth/service';
import { db } from '@/server/db';
import { fleetMode, liveGateways } from '@/server/fleet';
import { HttpError, json, route } from '@/server/http';

/**
 * The live gateways of a fleet, for the portal's own proxy (web/server.mjs), which forwards
 * /gateway/<id>/socket.io to the gateway's internal URL (bearer GATEWAY_SECRET).
 */
export const GET = route(async (req: NextRequest) => {
  if (!hasServiceBearer(req.headers))
    throw new HttpError(401, 'unauthenticated', 'Bad service credential.');
  return json({ gateways: fleetMode() ? await liveGateways(db()) : [] });
});
