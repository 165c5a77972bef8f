import type { Metadata } from 'next';
import { notFound, redirect } from 'next/navigation';
import { ViewerPage } from '@/components/ViewerPage';
import { idSchema } from '@/lib/validation';
import { pagePolicy, pageTicket } from '@/server/attach-ticket';
import { currentViewer } from '@/server/auth/request';
import { db } from '@/server/db';
import { gatewayEndpoint } from '@/server/gateway';
import { vmWatchers } from '@/server/home';

export const metadata: Metadata = { title: 'Desktop' };
export const dynamic = 'force-dynamic';

export default async function DesktopPage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await currentViewer();
  if (!viewer) redirect('/login');
  const { id } = await params;
  if (!idSchema.safeParse(id).success) notFound();
  const policy = pagePolicy(viewer);
  const watchers = vmWatchers(viewer.id, id);
  void watchers.catch(() => undefined); // not awaited when the page ends in notFound or a redirect
  const vm = await db().vm.findFirst({
    where: { id, ownerId: viewer.id, state: { not: 'destroyed' } },
  });
  if (!vm || !vm.domainId) notFound();
  if (vm.kind === 'disposable') redirect(`/browser/${vm.id}`);
  // The first attach token comes with the page: the viewer connects without asking for one.
  const [ticket, watchedBy] = await Promise.all([
    pageTicket({ domainId: vm.domainId, hostId: vm.hostId }, viewer, policy),
    watchers,
  ]);
  return (
    <ViewerPage
      vmId={vm.id}
      domainId={vm.domainId}
      kind="personal"
      title="My desktop"
      gateway={gatewayEndpoint()}
      ticket={ticket}
      watchers={watchedBy}
    />
  );
}
