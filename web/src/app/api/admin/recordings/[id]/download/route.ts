import type { NextRequest } from 'next/server';
import { audit } from '@/server/audit';
import { clientAddress, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { route } from '@/server/http';
import { findRecording, recordingIndex, recordingStream } from '@/server/recordings';

/** The recording file itself (format in gateway/src/protocol/recording.ts). Audited as an export. */
export const GET = route(async (req: NextRequest, ctx: { params: Promise<{ id: string }> }) => {
  const admin = await requireAdmin(req);
  const rec = await findRecording(db(), (await ctx.params).id);
  const index = await recordingIndex(db(), rec);
  await audit(db(), {
    action: 'recording.export',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'recording',
    targetId: rec.id,
    address: clientAddress(req.headers),
    details: { user: rec.userEmail || rec.userName, vm: rec.domainId, bytes: index.size },
  });
  return new Response(recordingStream(db(), rec, index.size), {
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(index.size),
      'content-disposition': `attachment; filename="recording-${rec.id}.rdrec"`,
      'cache-control': 'no-store',
    },
  });
});
