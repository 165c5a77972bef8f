import type { NextRequest } from 'next/server';
import { recordingEventSchema } from '@raydesk/gateway/recording';
import { hasServiceBearer } from '@/server/auth/service';
import { db } from '@/server/db';
import { HttpError, json, parseBody, route } from '@/server/http';
import { recordRecordingEvent } from '@/server/recordings';

/** Recording started, ended or deleted (by retention) on a gateway (bearer GATEWAY_SECRET). */
export const POST = route(async (req: NextRequest) => {
  if (!hasServiceBearer(req.headers))
    throw new HttpError(401, 'unauthenticated', 'Bad gateway credential.');
  const event = await parseBody(req, recordingEventSchema);
  await recordRecordingEvent(db(), event);
  return json({ ok: true });
});
