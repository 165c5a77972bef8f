import type { NextRequest } from 'next/server';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, route } from '@/server/http';
import { deleteRecordingFile, findRecording, presentRecording } from '@/server/recordings';

type Ctx = { params: Promise<{ id: string }> };

export const GET = route(async (req: NextRequest, ctx: Ctx) => {
  await requireAdmin(req);
  const rec = await findRecording(db(), (await ctx.params).id);
  return json({ recording: presentRecording(rec) });
});

/** Deletes the file on its gateway and the row. Audited. */
export const DELETE = route(async (req: NextRequest, ctx: Ctx) => {
  const admin = await requireAdmin(req);
  const rec = await findRecording(db(), (await ctx.params).id);
  await deleteRecordingFile(db(), rec);
  await db().recording.deleteMany({ where: { id: rec.id } });
  await audit(db(), {
    action: 'recording.delete',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'recording',
    targetId: rec.id,
    address: clientAddress(req.headers),
    details: { user: rec.userEmail || rec.userName, vm: rec.domainId },
  });
  return json({ ok: true });
});
