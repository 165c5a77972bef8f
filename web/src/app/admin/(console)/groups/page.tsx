import type { Metadata } from 'next';
import { GroupsClient } from './GroupsClient';

export const metadata: Metadata = { title: 'Groups' };

export default function AdminGroupsPage() {
  return <GroupsClient />;
}
