import type { ReactNode } from 'react';
import { AppShell } from '@/components/AppShell';
import { AdminNav } from '../AdminNav';
import { requireAdminPage } from '../guard';

export const dynamic = 'force-dynamic';

export default async function AdminConsoleLayout({ children }: { children: ReactNode }) {
  const viewer = await requireAdminPage();
  return (
    <AppShell user={viewer} active="admin">
      <div className="page-head">
        <div>
          <h1>Admin console</h1>
          <p>Sessions, machines, people and hosts, live.</p>
        </div>
      </div>
      <AdminNav />
      {children}
    </AppShell>
  );
}
