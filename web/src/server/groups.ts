// Groups of users, which policies attach to: two-step sign-in and the session policy
// (policy.ts combines a user's groups).
import type { Db } from '@raydesk/db';
import type { GroupPolicyInput } from '../lib/validation.ts';
import { HttpError, notFound } from './http.ts';
import { groupPolicyColumns, policyOfGroup } from './policy.ts';

export interface GroupView {
  id: string;
  name: string;
  requireTotp: boolean;
  policy: GroupPolicyInput;
  members: { id: string; email: string; name: string; totpEnabled: boolean }[];
}

export async function listGroups(db: Db): Promise<GroupView[]> {
  const groups = await db.group.findMany({
    orderBy: { name: 'asc' },
    include: {
      members: {
        include: { user: { select: { id: true, email: true, name: true, totpEnabledAt: true } } },
        orderBy: { createdAt: 'asc' },
      },
    },
  });
  return groups.map((g) => ({
    id: g.id,
    name: g.name,
    requireTotp: g.requireTotp,
    policy: policyOfGroup(g),
    members: g.members.map(({ user }) => ({
      id: user.id,
      email: user.email,
      name: user.name,
      totpEnabled: Boolean(user.totpEnabledAt),
    })),
  }));
}

const nameTaken = () => new HttpError(409, 'name_taken', 'A group with that name exists.');

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'P2002';
}

export async function createGroup(
  db: Db,
  input: { name: string; requireTotp: boolean },
): Promise<{ id: string }> {
  try {
    return await db.group.create({ data: input, select: { id: true } });
  } catch (e) {
    if (isUniqueViolation(e)) throw nameTaken();
    throw e;
  }
}

export async function updateGroup(
  db: Db,
  id: string,
  input: { name?: string; requireTotp?: boolean; policy?: GroupPolicyInput },
): Promise<void> {
  if (!(await db.group.findUnique({ where: { id } }))) throw notFound('No such group.');
  const { policy, ...fields } = input;
  try {
    await db.group.update({
      where: { id },
      data: { ...fields, ...(policy ? groupPolicyColumns(policy) : {}) },
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw nameTaken();
    throw e;
  }
}

export async function deleteGroup(db: Db, id: string): Promise<string> {
  const group = await db.group.findUnique({ where: { id } });
  if (!group) throw notFound('No such group.');
  await db.group.delete({ where: { id } });
  return group.name;
}

export async function addMember(db: Db, groupId: string, email: string): Promise<string> {
  if (!(await db.group.findUnique({ where: { id: groupId } }))) throw notFound('No such group.');
  const user = await db.user.findUnique({ where: { email } });
  if (!user) throw new HttpError(404, 'no_such_user', `No account has the email ${email}.`);
  // Added by hand, it stays whatever a single sign-on's groups claim says later.
  await db.groupMember.upsert({
    where: { groupId_userId: { groupId, userId: user.id } },
    create: { groupId, userId: user.id, source: 'manual' },
    update: { source: 'manual' },
  });
  return user.id;
}

export async function removeMember(db: Db, groupId: string, userId: string): Promise<void> {
  await db.groupMember.deleteMany({ where: { groupId, userId } });
}
