// Endpoint connections from the gateway's session events: who is attached to which VM from
// which browser, since when, and why it ended. Feeds "connected now" and the admin console.
import type { GatewayEvent } from '@raydesk/gateway/internal';
import type { Db } from './db.ts';
import { attachMeta } from './attach.ts';
import { audit } from './audit.ts';

export async function recordGatewayEvent(db: Db, e: GatewayEvent): Promise<void> {
  const at = new Date(e.at);
  const when = Number.isNaN(at.getTime()) ? new Date() : at;
  const vm = await db.vm.findUnique({ where: { domainId: e.vm } });
  const user = await db.user.findUnique({
    where: { id: e.userId },
    select: { id: true, email: true },
  });
  const start = async () => {
    const meta = attachMeta(e.userId, e.vm, e.mode);
    await db.endpointConnection.upsert({
      where: { gatewaySessionId: e.sessionId },
      create: {
        gatewaySessionId: e.sessionId,
        userId: user?.id ?? null,
        vmId: vm?.id ?? null,
        domainId: e.vm,
        mode: e.mode,
        userAgent: meta?.userAgent ?? '',
        address: meta?.address ?? '',
        startedAt: when,
      },
      update: {},
    });
  };
  const end = async (sessionId: string, reason: string) => {
    await db.endpointConnection.updateMany({
      where: { gatewaySessionId: sessionId, endedAt: null },
      data: { endedAt: when, endReason: reason.slice(0, 100) },
    });
  };
  const record = (action: string, details: Record<string, unknown>) =>
    audit(db, {
      action,
      actorId: user?.id,
      actorEmail: user?.email ?? e.name,
      targetType: 'vm',
      targetId: vm?.id ?? e.vm,
      details: { sessionId: e.sessionId, ...details },
    });
  switch (e.type) {
    case 'connect':
      await start();
      await record('session.connect', { mode: e.mode });
      break;
    case 'shadow-start':
      await start();
      await record('session.shadow-start', {});
      break;
    case 'takeover':
      await start();
      if (e.replacedSessionId) await end(e.replacedSessionId, 'takeover');
      await record('session.takeover', { replaced: e.replacedSessionId ?? null });
      break;
    case 'disconnect':
      await end(e.sessionId, e.reason ?? 'closed');
      await record('session.disconnect-event', { reason: e.reason ?? null });
      break;
    case 'shadow-end':
      await end(e.sessionId, e.reason ?? 'shadow-ended');
      await record('session.shadow-end', {});
      break;
  }
  // Disposable VMs: the grace period runs from the moment the last viewer left.
  if (vm?.kind === 'disposable')
    await db.vm.update({ where: { id: vm.id }, data: { lastSeenAt: when } });
}
