import type { ReactNode } from 'react';
import { requireAdminPage } from './guard';

export const dynamic = 'force-dynamic';

/** Everything under /admin: administrators only (the proxy answered 403 already; this re-checks). */
export default async function AdminLayout({ children }: { children: ReactNode }) {
  await requireAdminPage();
  return children;
}
