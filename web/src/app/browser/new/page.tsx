import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { currentViewer } from '@/server/auth/request';
import { NewBrowser } from './NewBrowser';

export const metadata: Metadata = { title: 'Starting disposable browser' };
export const dynamic = 'force-dynamic';

export default async function NewBrowserPage() {
  if (!(await currentViewer())) redirect('/login?next=/browser/new');
  return <NewBrowser />;
}
