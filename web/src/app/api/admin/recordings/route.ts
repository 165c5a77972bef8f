import type { NextRequest } from 'next/server';
import { z } from 'zod';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseQuery, route } from '@/server/http';
import { presentRecording } from '@/server/recordings';

const listSchema = z.object({
  user: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(200),
});

/** Recordings, newest first (admins only). */
export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  const q = parseQuery(req, listSchema);
  const rows = await db().recording.findMany({
    where: q.user
      ? {
          OR: [
            { userEmail: { contains: q.user.toLowerCase() } },
            { userName: { contains: q.user } },
          ],
        }
      : {},
    orderBy: { startedAt: 'desc' },
    take: q.limit,
  });
  return json({ recordings: rows.map(presentRecording) });
});
