import type { NextRequest } from 'next/server';
import { clientAddress, requireUser } from '@/server/auth/request';
import { db } from '@/server/db';
import { homeData } from '@/server/home';
import { json, parseBody, route } from '@/server/http';
import { settingsSchema, updateSettings } from '@/server/keyboard';

/** The signed-in user, their VMs and where they are connected now (the home page polls this). */
export const GET = route(async (req: NextRequest) => json(await homeData(await requireUser(req))));

/** The user's own settings (the keyboard layout of their desktop). */
export const PATCH = route(async (req: NextRequest) => {
  const viewer = await requireUser(req);
  const input = await parseBody(req, settingsSchema);
  return json(await updateSettings(db(), viewer, input, clientAddress(req.headers)));
});
