'use client';
import { DataTable } from '../DataTable';
import { useEffect, useState } from 'react';
import { Eye, Plug } from '@/components/icons';
import { api, errorText } from '@/lib/api';
import { duration, mib } from '@/lib/format';
import { Toast } from '../Toast';
import { usePoll, useToast } from '../usePoll';

interface Session {
  id: string;
  userName: string;
  userEmail: string | null;
  mode: string;
  domainId: string;
  vmId: string | null;
  vmKind: string | null;
  appliance: string | null;
  owner: string | null;
  endpoint: string;
  address: string;
  since: string;
  lagMs: number | null;
}

interface Host {
  memoryBudgetMiB: number;
  memoryUsedMiB: number;
  running: number;
  status: string;
}

function Thumbnail({ vmId, tick }: { vmId: string | null; tick: number }) {
  const [failed, setFailed] = useState(false);
  useEffect(() => setFailed(false), [tick]);
  if (!vmId || failed) return <div className="thumb-empty">No picture</div>;
  return (
    <img
      className="thumb"
      alt="Screen thumbnail"
      src={`/api/admin/vms/${vmId}/thumbnail?t=${tick}`}
      onError={() => setFailed(true)}
    />
  );
}

export function SessionsClient() {
  const sessions = usePoll<{ sessions: Session[]; source: string; gatewayError: string | null }>(
    '/api/admin/sessions',
    3000,
  );
  const hosts = usePoll<{ hosts: Host[] }>('/api/admin/hosts', 10000);
  const vms = usePoll<{ vms: { state: string }[] }>('/api/admin/vms?state=active', 5000);
  const [tick, setTick] = useState(0);
  const [now, setNow] = useState(Date.now());
  const { toast, show } = useToast();
  useEffect(() => {
    const t = setInterval(() => setTick((x) => x + 1), 5000);
    const n = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      clearInterval(t);
      clearInterval(n);
    };
  }, []);

  async function disconnect(s: Session) {
    if (
      !confirm(`Disconnect ${s.userEmail ?? s.userName} from ${s.domainId}? The VM keeps running.`)
    )
      return;
    try {
      await api(`/api/admin/sessions/${encodeURIComponent(s.id)}/disconnect`, {
        body: { reason: 'admin-disconnect' },
      });
      show('Session disconnected.');
      await sessions.reload();
    } catch (e) {
      show(errorText(e), true);
    }
  }

  const list = sessions.data?.sessions ?? [];
  const host = hosts.data?.hosts[0];
  const running = vms.data?.vms.filter((v) => v.state === 'running').length ?? 0;
  return (
    <>
      <div className="stats">
        <div className="card stat">
          <div className="label">Live sessions</div>
          <div className="value">{list.length}</div>
        </div>
        <div className="card stat">
          <div className="label">Running VMs</div>
          <div className="value">{running}</div>
        </div>
        <div className="card stat">
          <div className="label">Active VMs</div>
          <div className="value">{vms.data?.vms.length ?? '—'}</div>
        </div>
        <div className="card stat">
          <div className="label">Host memory</div>
          <div className="value">
            {host ? `${mib(host.memoryUsedMiB)}` : '—'}
            <span className="muted small" style={{ fontWeight: 500 }}>
              {' '}
              {host ? ` of ${mib(host.memoryBudgetMiB)}` : ''}
            </span>
          </div>
        </div>
      </div>
      {sessions.data?.gatewayError && (
        <div className="alert alert-warn" style={{ marginBottom: 16 }}>
          {sessions.data.gatewayError} Showing sessions as last recorded by the portal.
        </div>
      )}
      <section className="card">
        <div className="card-head">
          <h2>Live sessions</h2>
          <span className={`live-dot${sessions.error ? ' stale' : ''}`}>
            {sessions.error ? 'Reconnecting…' : 'Live · refreshes every 3 s'}
          </span>
        </div>
        <DataTable
          columns={['Screen', 'User', 'VM', 'Endpoint', 'Since', 'Actions>']}
          empty={
            list.length === 0
              ? {
                  title: 'Nobody is connected',
                  text: 'Sessions appear here as soon as someone opens a desktop or a disposable browser.',
                }
              : null
          }
        >
          {list.map((s) => (
            <tr key={s.id} data-session={s.id}>
              <td>
                <Thumbnail vmId={s.vmId} tick={tick} />
              </td>
              <td>
                <div style={{ fontWeight: 600 }}>{s.userName || s.userEmail}</div>
                <div className="muted small">{s.userEmail}</div>
                <span className={`badge badge-${s.mode}`} style={{ marginTop: 6 }}>
                  {s.mode === 'view' ? 'View only' : 'Control'}
                </span>
              </td>
              <td>
                <div className="mono">{s.domainId}</div>
                <div className="muted small">
                  {s.vmKind === 'disposable' ? 'Disposable browser' : (s.appliance ?? '—')}
                  {s.owner && s.owner !== s.userEmail ? ` · owner ${s.owner}` : ''}
                </div>
              </td>
              <td>
                <div>{s.endpoint}</div>
                <div className="muted small">
                  {s.address || '—'}
                  {s.lagMs != null ? ` · lag ${Math.round(s.lagMs)} ms` : ''}
                </div>
              </td>
              <td>{duration(s.since, now)}</td>
              <td style={{ textAlign: 'right' }}>
                <div className="row actions">
                  {s.vmId && (
                    <a
                      className="btn btn-sm"
                      href={`/admin/shadow/${s.vmId}`}
                      target="_blank"
                      rel="noreferrer"
                      title="Watch this screen, view only (audited; the user is told)"
                    >
                      <Eye size={15} /> Shadow
                    </a>
                  )}
                  <button className="btn btn-sm btn-danger" onClick={() => void disconnect(s)}>
                    <Plug size={15} /> Disconnect
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </DataTable>
      </section>
      <Toast toast={toast} />
    </>
  );
}
