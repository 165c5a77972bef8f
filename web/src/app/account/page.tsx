import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { AppShell } from '@/components/AppShell';
import { currentViewer } from '@/server/auth/request';
import { SecondFactorCard } from './SecondFactorCard';

export const metadata: Metadata = { title: 'Account' };
export const dynamic = 'force-dynamic';

export default async function AccountPage() {
  const viewer = await currentViewer();
  if (!viewer) redirect('/login?next=/account');
  return (
    <AppShell user={viewer} active="account">
      <div className="page-head">
        <div>
          <h1>Account</h1>
          <p>How you sign in to Raydesk.</p>
        </div>
      </div>
      <div className="stack" style={{ gap: 20, maxWidth: 640 }}>
        <SecondFactorCard />
      </div>
    </AppShell>
  );
}
