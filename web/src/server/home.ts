import type { Viewer } from './auth/request.ts';
import { db } from './db.ts';
import { KEYBOARD_LAYOUTS, keyboardLayoutOf, type KeyboardLayout } from './keyboard.ts';
import { connectionView, vmView, type ConnectionView, type VmView } from './present.ts';

export interface HomeData {
  user: {
    id: string;
    email: string;
    name: string;
    role: string;
    maxVms: number;
    maxMemoryMiB: number;
    keyboardLayout: KeyboardLayout;
  };
  /** The layouts a user may choose for their desktop. */
  keyboardLayouts: readonly KeyboardLayout[];
  desktop: VmView | null;
  disposables: VmView[];
  connections: ConnectionView[];
  watchedBy: { vmId: string | null; admin: string; since: string }[];
}

export async function homeData(viewer: Viewer): Promise<HomeData> {
  const [vms, connections, shadows, keyboardLayout] = await Promise.all([
    db().vm.findMany({
      where: { ownerId: viewer.id, state: { not: 'destroyed' } },
      include: { appliance: true },
      orderBy: { createdAt: 'asc' },
    }),
    db().endpointConnection.findMany({
      where: { userId: viewer.id, endedAt: null },
      include: { vm: { select: { kind: true } } },
      orderBy: { startedAt: 'desc' },
    }),
    shadowsOf(viewer.id),
    keyboardLayoutOf(db(), viewer.id),
  ]);
  const desktop = vms.find((v) => v.kind === 'personal') ?? null;
  return {
    user: {
      id: viewer.id,
      email: viewer.email,
      name: viewer.name,
      role: viewer.role,
      maxVms: viewer.maxVms,
      maxMemoryMiB: viewer.maxMemoryMiB,
      keyboardLayout,
    },
    keyboardLayouts: KEYBOARD_LAYOUTS,
    desktop: desktop ? vmView(desktop) : null,
    disposables: vms.filter((v) => v.kind === 'disposable').map(vmView),
    connections: connections.map(connectionView),
    watchedBy: shadows.map((s) => ({
      vmId: s.vmId,
      admin: watcherName(s.user),
      since: s.startedAt.toISOString(),
    })),
  };
}

/** Open view-only connections of others (administrators) to a user's VMs, or to one of them. */
function shadowsOf(ownerId: string, vmId?: string) {
  return db().endpointConnection.findMany({
    where: {
      endedAt: null,
      mode: 'view',
      vm: { ownerId, ...(vmId ? { id: vmId } : {}) },
      NOT: { userId: ownerId },
    },
    include: { user: { select: { id: true, email: true, name: true } } },
  });
}

function watcherName(user: { name: string | null; email: string } | null): string {
  return user?.name || user?.email || 'An administrator';
}

/** Who is viewing one of a user's VMs now, for its viewer page (as `watchedBy` has them). */
export async function vmWatchers(ownerId: string, vmId: string): Promise<string[]> {
  return (await shadowsOf(ownerId, vmId)).map((s) => watcherName(s.user));
}
