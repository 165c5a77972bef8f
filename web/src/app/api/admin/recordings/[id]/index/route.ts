import type { NextRequest } from 'next/server';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, route } from '@/server/http';
import { findRecording, presentRecording, recordingIndex } from '@/server/recordings';

/** What the player needs to seek (start, size, duration, keyframes). Opening it is audited. */
export const GET = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const rec = await findRecording(db(), (await ctx.params).id);
  const index = await recordingIndex(db(), rec);
  await audit(db(), {
    action: 'recording.play',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'recording',
    targetId: rec.id,
    address: clientAddress(req.headers),
    details: { user: rec.userEmail || rec.userName, vm: rec.domainId },
  });
  return json({ recording: presentRecording(rec), index });
});
