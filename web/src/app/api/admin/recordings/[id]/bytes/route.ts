import type { NextRequest } from 'next/server';
import { recordingRangeSchema } from '@raydesk/gateway/recording';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { parseQuery, route } from '@/server/http';
import { findRecording, recordingBytes } from '@/server/recordings';

/** Bytes [from, to) of a recording, for the player (opening it was audited with the index). */
export const GET = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  await requireAdmin(req);
  const range = parseQuery(req, recordingRangeSchema);
  const rec = await findRecording(db(), (await ctx.params).id);
  const bytes = await recordingBytes(db(), rec, range.from, range.to);
  return new Response(Buffer.from(bytes), {
    headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' },
  });
});
