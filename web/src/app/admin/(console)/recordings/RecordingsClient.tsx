'use client';
import Link from 'next/link';
import { useState } from 'react';
import { api, errorText } from '@/lib/api';
import { dateTime } from '@/lib/format';
import { DataTable } from '../../DataTable';
import { usePoll } from '../../usePoll';
import { clock, size } from './format';

export interface RecordingRow {
  id: string;
  userName: string;
  userEmail: string;
  domainId: string;
  gatewayId: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number;
  sizeBytes: number;
}

export function RecordingsClient() {
  const [user, setUser] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const q = new URLSearchParams({ limit: '200', ...(user ? { user } : {}) });
  const { data, error, reload } = usePoll<{ recordings: RecordingRow[] }>(
    `/api/admin/recordings?${q}`,
    5000,
  );
  const rows = data?.recordings ?? [];
  const remove = async (r: RecordingRow) => {
    if (!window.confirm(`Delete the recording of ${r.userName} from ${dateTime(r.startedAt)}?`))
      return;
    try {
      await api(`/api/admin/recordings/${r.id}`, { method: 'DELETE' });
      setProblem(null);
      await reload();
    } catch (e) {
      setProblem(errorText(e));
    }
  };
  return (
    <section className="card">
      <div className="filters" role="search">
        <input
          className="compact"
          type="search"
          placeholder="User contains…"
          aria-label="User"
          value={user}
          onChange={(e) => setUser(e.target.value)}
        />
        <span className="spacer" />
        <span className={`live-dot${error ? ' stale' : ''}`}>
          {error ?? `${rows.length} recording${rows.length === 1 ? '' : 's'} · live`}
        </span>
      </div>
      {problem && <div className="alert alert-error">{problem}</div>}
      <DataTable
        columns={['User', 'VM', 'Started', 'Length', 'Size', 'Actions>']}
        empty={
          rows.length === 0
            ? {
                title: 'No recordings',
                text: 'Sessions are recorded for users whose group policy turns recording on.',
              }
            : null
        }
      >
        {rows.map((r) => (
          <tr key={r.id} data-recording={r.id}>
            <td>
              <div>{r.userName}</div>
              <div className="muted small">{r.userEmail}</div>
            </td>
            <td className="small mono">{r.domainId}</td>
            <td className="small" style={{ whiteSpace: 'nowrap' }}>
              {dateTime(r.startedAt)}
            </td>
            <td className="small">
              {r.endedAt ? clock(r.durationMs) : <span className="badge badge-running">live</span>}
            </td>
            <td className="small">{r.endedAt ? size(r.sizeBytes) : '—'}</td>
            <td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>
              <Link className="btn btn-sm btn-primary" href={`/admin/recordings/${r.id}`}>
                Play
              </Link>{' '}
              <a className="btn btn-sm" href={`/api/admin/recordings/${r.id}/download`} download>
                Download
              </a>{' '}
              <button className="btn btn-sm" type="button" onClick={() => void remove(r)}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
