import { redirect } from 'next/navigation';
import { currentViewer, type Viewer } from '@/server/auth/request';

/** Admin pages: the proxy already answered 403 to non-admins; this re-checks against the database. */
export async function requireAdminPage(): Promise<Viewer> {
  const viewer = await currentViewer();
  if (!viewer) redirect('/login?next=/admin');
  if (viewer.role !== 'admin') redirect('/forbidden');
  return viewer;
}
