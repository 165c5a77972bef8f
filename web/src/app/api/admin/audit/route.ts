import type { NextRequest } from 'next/server';
import { auditFilterSchema } from '@/lib/validation';
import { requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { json, parseQuery, route } from '@/server/http';

export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  const f = parseQuery(req, auditFilterSchema);
  const events = await db().auditEvent.findMany({
    where: {
      ...(f.action ? { action: { startsWith: f.action } } : {}),
      ...(f.actor ? { actorEmail: { contains: f.actor.toLowerCase() } } : {}),
      ...(f.target ? { targetId: f.target } : {}),
      ...(f.since || f.before
        ? {
            at: {
              ...(f.since ? { gte: new Date(f.since) } : {}),
              ...(f.before ? { lt: new Date(f.before) } : {}),
            },
          }
        : {}),
    },
    orderBy: { at: 'desc' },
    take: f.limit,
  });
  return json({
    events: events.map((e) => ({
      id: e.id,
      at: e.at.toISOString(),
      action: e.action,
      actorEmail: e.actorEmail,
      targetType: e.targetType,
      targetId: e.targetId,
      address: e.address,
      details: safeJson(e.details),
    })),
  });
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
