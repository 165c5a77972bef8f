'use client';
import { DataTable } from '../../DataTable';
import { useState } from 'react';
import { dateTime } from '@/lib/format';
import { usePoll } from '../../usePoll';

interface Event {
  id: string;
  at: string;
  action: string;
  actorEmail: string | null;
  targetType: string | null;
  targetId: string | null;
  address: string | null;
  details: Record<string, unknown>;
}

const CATEGORIES: [string, string][] = [
  ['', 'All events'],
  ['login', 'Sign-ins, failures, lockouts'],
  ['login.failure', 'Failed sign-ins'],
  ['login.lockout', 'Lockouts'],
  ['vm.', 'VM lifecycle'],
  ['session.', 'Sessions, takeovers, shadowing'],
  ['session.shadow', 'Shadowing'],
  ['session.takeover', 'Takeovers'],
  ['user.', 'User administration'],
  ['auth.', 'Token security'],
];

function tone(action: string): string {
  if (
    action.includes('failure') ||
    action.includes('lock') ||
    action.includes('reuse') ||
    action.includes('destroy')
  )
    return 'badge-danger';
  if (action.startsWith('session.shadow') || action.includes('takeover')) return 'badge-view';
  if (
    action.startsWith('login.success') ||
    action.startsWith('vm.create') ||
    action.startsWith('vm.resume')
  )
    return 'badge-running';
  return '';
}

export function AuditClient() {
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [sinceDate, setSinceDate] = useState('');
  const q = new URLSearchParams({
    limit: '200',
    ...(action ? { action } : {}),
    ...(actor ? { actor } : {}),
    ...(sinceDate ? { since: sinceDate } : {}),
  });
  const { data, error } = usePoll<{ events: Event[] }>(`/api/admin/audit?${q}`, 4000);
  const events = data?.events ?? [];
  return (
    <section className="card">
      <div className="filters" role="search">
        <select
          className="compact"
          aria-label="Event type"
          value={action}
          onChange={(e) => setAction(e.target.value)}
        >
          {CATEGORIES.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        <input
          className="compact"
          type="search"
          placeholder="Actor email contains…"
          aria-label="Actor"
          value={actor}
          onChange={(e) => setActor(e.target.value)}
        />
        <label className="row small muted">
          Since{' '}
          <input
            className="compact"
            type="date"
            aria-label="Since"
            value={sinceDate}
            onChange={(e) => setSinceDate(e.target.value)}
          />
        </label>
        <span className="spacer" />
        <span className={`live-dot${error ? ' stale' : ''}`}>
          {error ?? `${events.length} events · live`}
        </span>
      </div>
      <DataTable
        columns={['When', 'Event', 'Actor', 'Target', 'Address', 'Details']}
        empty={
          events.length === 0
            ? { title: 'No events', text: 'Nothing matches these filters yet.' }
            : null
        }
      >
        {events.map((e) => (
          <tr key={e.id}>
            <td className="small" style={{ whiteSpace: 'nowrap' }}>
              {dateTime(e.at)}
            </td>
            <td>
              <span className={`badge plain ${tone(e.action)}`}>{e.action}</span>
            </td>
            <td className="small">{e.actorEmail ?? <span className="faint">system</span>}</td>
            <td className="small">
              {e.targetType ? (
                <>
                  <span className="muted">{e.targetType}</span>{' '}
                  <span className="mono">{e.targetId?.slice(-10)}</span>
                </>
              ) : (
                '—'
              )}
            </td>
            <td className="small mono">{e.address ?? '—'}</td>
            <td>
              <div className="details" title={JSON.stringify(e.details)}>
                {Object.keys(e.details).length ? JSON.stringify(e.details) : '—'}
              </div>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
