import type { Metadata } from 'next';
import { SessionsClient } from './SessionsClient';

export const metadata: Metadata = { title: 'Live sessions' };

export default function AdminSessionsPage() {
  return <SessionsClient />;
}
