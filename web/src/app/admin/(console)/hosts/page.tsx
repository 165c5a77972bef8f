import type { Metadata } from 'next';
import { HostsClient } from './HostsClient';

export const metadata: Metadata = { title: 'Hosts' };

export default function AdminHostsPage() {
  return <HostsClient />;
}
