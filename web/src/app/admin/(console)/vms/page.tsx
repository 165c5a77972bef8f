import type { Metadata } from 'next';
import { VmsClient } from './VmsClient';

export const metadata: Metadata = { title: 'VMs' };

export default function AdminVmsPage() {
  return <VmsClient />;
}
