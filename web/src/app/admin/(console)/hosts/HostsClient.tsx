'use client';
import { mib, since } from '@/lib/format';
import { usePoll } from '../../usePoll';

interface Host {
  id: string;
  name: string;
  url: string;
  status: string;
  memoryBudgetMiB: number;
  memoryUsedMiB: number;
  cores: number;
  domains: number;
  running: number;
  portalVms: number;
  lastHeartbeatAt: string | null;
}

export function HostsClient() {
  const { data, error } = usePoll<{ hosts: Host[] }>('/api/admin/hosts', 5000);
  const hosts = data?.hosts ?? [];
  return (
    <div className="grid" style={{ gridTemplateColumns: 'repeat(auto-fill, minmax(340px, 1fr))' }}>
      {error && <div className="alert alert-error">{error}</div>}
      {hosts.map((h) => {
        const pct = h.memoryBudgetMiB
          ? Math.min(100, Math.round((h.memoryUsedMiB / h.memoryBudgetMiB) * 100))
          : 0;
        return (
          <section key={h.id} className="card">
            <div className="card-head">
              <div>
                <h2>{h.name}</h2>
                <div className="muted small mono">
                  {h.id} · {h.url}
                </div>
              </div>
              <span className={`badge badge-${h.status}`}>
                {h.status === 'online' ? 'Online' : h.status === 'offline' ? 'Offline' : 'Unknown'}
              </span>
            </div>
            <div className="card-body stack">
              <div>
                <div className="row small" style={{ marginBottom: 6 }}>
                  <strong>Guest memory</strong>
                  <span className="spacer" />
                  <span className="muted">
                    {mib(h.memoryUsedMiB)} of {mib(h.memoryBudgetMiB)} ({pct}%)
                  </span>
                </div>
                <div className="bar">
                  <span style={{ width: `${pct}%` }} />
                </div>
              </div>
              <div className="stats" style={{ gridTemplateColumns: 'repeat(3, 1fr)', margin: 0 }}>
                <div>
                  <div className="muted small">Running</div>
                  <div style={{ fontSize: 20, fontWeight: 700 }}>{h.running}</div>
                </div>
                <div>
                  <div className="muted small">Domains</div>
                  <div style={{ fontSize: 20, fontWeight: 700 }}>{h.domains}</div>
                </div>
                <div>
                  <div className="muted small">CPU cores</div>
                  <div style={{ fontSize: 20, fontWeight: 700 }}>{h.cores || '—'}</div>
                </div>
              </div>
            </div>
            <div className="card-foot small muted">
              Last heartbeat {h.lastHeartbeatAt ? since(h.lastHeartbeatAt) : 'never'} ·{' '}
              {h.portalVms} portal VM{h.portalVms === 1 ? '' : 's'} placed here
            </div>
          </section>
        );
      })}
    </div>
  );
}
