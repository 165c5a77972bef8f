import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { ViewerPage } from '@/components/ViewerPage';
import { idSchema } from '@/lib/validation';
import { db } from '@/server/db';
import { gatewayEndpoint } from '@/server/gateway';
import { requireAdminPage } from '../../guard';

export const metadata: Metadata = { title: 'Shadow (view only)' };
export const dynamic = 'force-dynamic';

export default async function ShadowPage({ params }: { params: Promise<{ id: string }> }) {
  await requireAdminPage();
  const { id } = await params;
  if (!idSchema.safeParse(id).success) notFound();
  const vm = await db().vm.findFirst({
    where: { id, state: { not: 'destroyed' } },
    include: { owner: true },
  });
  if (!vm || !vm.domainId) notFound();
  return (
    <ViewerPage
      vmId={vm.id}
      domainId={vm.domainId}
      kind="shadow"
      title={`Viewing ${vm.owner.name || vm.owner.email}`}
      ownerEmail={vm.owner.email}
      gateway={gatewayEndpoint()}
    />
  );
}
