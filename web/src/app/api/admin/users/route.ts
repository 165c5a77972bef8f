import type { NextRequest } from 'next/server';
import { createUserSchema } from '@/lib/validation';
import { audit } from '@/server/audit';
import { hashPassword } from '@/server/auth/password';
import { lockSummaries } from '@/server/auth/lockout';
import { clientAddress, lockoutSettings, requireAdmin } from '@/server/auth/request';
import { db } from '@/server/db';
import { HttpError, json, parseBody, route } from '@/server/http';
import { ACTIVE_STATES } from '@/server/vms';

export const GET = route(async (req: NextRequest) => {
  await requireAdmin(req);
  const users = await db().user.findMany({
    orderBy: { createdAt: 'asc' },
    include: { vms: { where: { state: { in: ACTIVE_STATES } }, select: { memoryMiB: true } } },
  });
  const locks = await lockSummaries(db(), lockoutSettings());
  return json({
    users: users.map((u) => ({
      id: u.id,
      email: u.email,
      name: u.name,
      role: u.role,
      disabled: u.disabled,
      maxVms: u.maxVms,
      maxMemoryMiB: u.maxMemoryMiB,
      vms: u.vms.length,
      memoryMiB: u.vms.reduce((s, v) => s + v.memoryMiB, 0),
      createdAt: u.createdAt.toISOString(),
      lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
      totpEnabled: Boolean(u.totpEnabledAt),
      /** Failed sign-ins within the lockout window and the addresses locked out by them. */
      signInFailures: locks.get(u.email) ?? { failures: 0, lockedAddresses: 0 },
    })),
  });
});

export const POST = route(async (req: NextRequest) => {
  const admin = await requireAdmin(req);
  const input = await parseBody(req, createUserSchema);
  if (await db().user.findUnique({ where: { email: input.email } })) {
    throw new HttpError(409, 'email_taken', 'An account with that email already exists.', {
      issues: [{ path: 'email', message: 'An account with that email already exists.' }],
    });
  }
  const user = await db().user.create({
    data: {
      email: input.email,
      name: input.name,
      role: input.role,
      maxVms: input.maxVms,
      maxMemoryMiB: input.maxMemoryMiB,
      passwordHash: await hashPassword(input.password),
    },
  });
  await audit(db(), {
    action: 'user.create',
    actorId: admin.id,
    actorEmail: admin.email,
    targetType: 'user',
    targetId: user.id,
    address: clientAddress(req.headers),
    details: { email: user.email, role: user.role },
  });
  return json({ user: { id: user.id, email: user.email } }, { status: 201 });
});
