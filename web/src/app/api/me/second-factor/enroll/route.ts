import type { NextRequest } from 'next/server';
import { startOwnEnrolment } from '@/server/auth/second-factor-account';
import { requireUser, sessionSettings } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, route } from '@/server/http';

/** A new secret to scan; two-step sign-in is on only after a code from it is confirmed. */
export const POST = route(async (req: NextRequest) => {
  const me = await requireUser(req);
  return json(await startOwnEnrolment(db(), sessionSettings().sessionSecret, me));
});
