import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { AppShell } from '@/components/AppShell';
import { currentViewer } from '@/server/auth/request';
import { homeData } from '@/server/home';
import { HomeClient } from './HomeClient';

export const metadata: Metadata = { title: 'My desktop' };
export const dynamic = 'force-dynamic';

export default async function Home() {
  const viewer = await currentViewer();
  if (!viewer) redirect('/login');
  const data = await homeData(viewer);
  return (
    <AppShell user={viewer} active="home">
      <HomeClient initial={data} />
    </AppShell>
  );
}
