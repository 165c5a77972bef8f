import type { Metadata } from 'next';
import { RecordingsClient } from './RecordingsClient';

export const metadata: Metadata = { title: 'Recordings' };

export default function AdminRecordingsPage() {
  return <RecordingsClient />;
}
