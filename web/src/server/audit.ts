// The audit log: who did what to what, from where.
import type { Db } from '@raydesk/db';
import { log } from './log.ts';

export interface AuditInput {
  action: string;
  actorId?: string | null;
  actorEmail?: string | null;
  targetType?: string;
  targetId?: string | null;
  address?: string | null;
  details?: Record<string, unknown>;
}

export async function audit(db: Db, e: AuditInput): Promise<void> {
  try {
    await db.auditEvent.create({
      data: {
        action: e.action,
        actorId: e.actorId ?? null,
        actorEmail: e.actorEmail ?? null,
        targetType: e.targetType ?? null,
        targetId: e.targetId ?? null,
        address: e.address ?? null,
        details: JSON.stringify(e.details ?? {}),
      },
    });
  } catch (error) {
    // Auditing must not take a request down with it, but it must be visible.
    log.error({ err: error, action: e.action }, 'audit write failed');
  }
}
