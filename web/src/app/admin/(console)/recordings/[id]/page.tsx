import type { Metadata } from 'next';
import { PlayerClient } from './PlayerClient';

export const metadata: Metadata = { title: 'Recording' };

export default async function RecordingPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <PlayerClient id={id} />;
}
