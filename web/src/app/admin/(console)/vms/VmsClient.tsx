'use client';
import { DataTable } from '../../DataTable';
import { useState } from 'react';
import { api, errorText } from '@/lib/api';
import { mib, since, STATE_LABEL } from '@/lib/format';
import type { VmView } from '@/server/present';
import { Toast } from '../../Toast';
import { usePoll, useToast } from '../../usePoll';
import { FleetDialog, usableHosts, type FleetAction, type FleetHost } from './FleetDialog';

const ACTIONS: Record<string, string[]> = {
  running: ['suspend', 'reboot', 'destroy'],
  paused: ['resume', 'suspend', 'reboot', 'destroy'],
  saved: ['resume', 'destroy'],
  crashed: ['resume', 'destroy'],
  starting: ['destroy'],
  saving: ['destroy'],
  creating: ['destroy'],
  stopped: ['destroy'],
};

export function VmsClient() {
  const [state, setState] = useState('active');
  const [kind, setKind] = useState('all');
  const [appliance, setAppliance] = useState('');
  const [owner, setOwner] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const q = new URLSearchParams({
    state,
    kind,
    ...(appliance ? { appliance } : {}),
    ...(owner ? { owner } : {}),
  });
  const { data, error, reload } = usePoll<{ vms: VmView[] }>(`/api/admin/vms?${q}`, 3000);
  const { toast, show } = useToast();
  const hosts = usePoll<{ hosts: FleetHost[] }>('/api/admin/hosts', 5000).data?.hosts ?? [];
  // "Move to…" only in a fleet: more than one host that can take a VM.
  const fleet = usableHosts(hosts).length > 1;
  const [fleetAction, setFleetAction] = useState<FleetAction | null>(null);

  async function act(vm: VmView, action: string) {
    if (
      action === 'destroy' &&
      !confirm(`Destroy ${vm.domainId ?? vm.id} of ${vm.owner?.email}? Its state is lost.`)
    )
      return;
    setBusy(`${vm.id}:${action}`);
    try {
      await api(`/api/admin/vms/${vm.id}/actions`, { body: { action } });
      show(`${action[0]!.toUpperCase()}${action.slice(1)}: done.`);
      await reload();
    } catch (e) {
      show(errorText(e), true);
    } finally {
      setBusy(null);
    }
  }

  const vms = data?.vms ?? [];
  return (
    <section className="card">
      <div className="filters" role="search">
        <select
          className="compact"
          aria-label="State"
          value={state}
          onChange={(e) => setState(e.target.value)}
        >
          <option value="active">Active (not destroyed)</option>
          <option value="running">Running</option>
          <option value="paused">Paused</option>
          <option value="saved">Suspended</option>
          <option value="crashed">Crashed</option>
          <option value="destroyed">Destroyed</option>
          <option value="all">All</option>
        </select>
        <select
          className="compact"
          aria-label="Kind"
          value={kind}
          onChange={(e) => setKind(e.target.value)}
        >
          <option value="all">All kinds</option>
          <option value="personal">Personal desktops</option>
          <option value="disposable">Disposable browsers</option>
        </select>
        <select
          className="compact"
          aria-label="Appliance"
          value={appliance}
          onChange={(e) => setAppliance(e.target.value)}
        >
          <option value="">All appliances</option>
          <option value="desktop">desktop</option>
          <option value="browser">browser</option>
          <option value="console">console</option>
        </select>
        <input
          className="compact"
          type="search"
          placeholder="Owner email contains…"
          aria-label="Owner"
          value={owner}
          onChange={(e) => setOwner(e.target.value)}
        />
        <span className="spacer" />
        <span className={`live-dot${error ? ' stale' : ''}`}>
          {error ? error : `${vms.length} VM${vms.length === 1 ? '' : 's'} · live`}
        </span>
      </div>
      <DataTable
        columns={[
          'VM',
          'Owner',
          'Appliance',
          'State',
          'Host',
          'Memory',
          'CPU',
          'Started',
          'Actions>',
        ]}
        empty={
          vms.length === 0
            ? {
                title: 'No VMs match',
                text: 'Change the filters, or wait for someone to open a desktop.',
              }
            : null
        }
      >
        {vms.map((vm) => (
          <tr key={vm.id}>
            <td>
              <div className="mono">{vm.domainId ?? '—'}</div>
              <div className="muted small">
                {vm.kind === 'personal' ? 'Personal' : 'Disposable'}
              </div>
            </td>
            <td>
              <div style={{ fontWeight: 600 }}>{vm.owner?.name}</div>
              <div className="muted small">{vm.owner?.email}</div>
            </td>
            <td>{vm.appliance}</td>
            <td>
              <span className={`badge badge-${vm.state}`}>{STATE_LABEL[vm.state] ?? vm.state}</span>
            </td>
            <td style={{ whiteSpace: 'nowrap' }}>{vm.hostId ?? '—'}</td>
            <td>{mib(vm.memoryMiB)}</td>
            <td>{vm.state === 'running' ? `${vm.cpuPercent}%` : '—'}</td>
            <td className="small">{since(vm.startedAt ?? vm.createdAt)}</td>
            <td style={{ textAlign: 'right' }}>
              <div className="row actions">
                {(ACTIONS[vm.state] ?? []).map((a) => (
                  <button
                    key={a}
                    className={`btn btn-sm${a === 'destroy' ? ' btn-danger' : ''}`}
                    disabled={busy !== null}
                    onClick={() => void act(vm, a)}
                  >
                    {busy === `${vm.id}:${a}` ? '…' : a[0]!.toUpperCase() + a.slice(1)}
                  </button>
                ))}
                {fleet && (vm.state === 'running' || vm.state === 'paused') && (
                  <button
                    className="btn btn-sm"
                    disabled={busy !== null}
                    onClick={() => setFleetAction({ kind: 'move', vm })}
                  >
                    Move to…
                  </button>
                )}
                {vm.state === 'running' && (
                  <button
                    className="btn btn-sm"
                    disabled={busy !== null}
                    onClick={() => setFleetAction({ kind: 'clone', vm })}
                  >
                    Clone…
                  </button>
                )}
              </div>
            </td>
          </tr>
        ))}
      </DataTable>
      <FleetDialog
        action={fleetAction}
        hosts={hosts}
        onClose={() => setFleetAction(null)}
        onDone={(message) => {
          show(message);
          void reload();
        }}
      />
      <Toast toast={toast} />
    </section>
  );
}
