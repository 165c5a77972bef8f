'use client';
// "Move to…" and "Clone…" of the admin VMs page: one dialog, a host select, and for copies a
// count, a list of users' email addresses, or a group whose members each get one.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, errorText } from '@/lib/api';
import { MAX_CLONES } from '@/lib/validation';
import type { VmView } from '@/server/present';

export interface FleetHost {
  id: string;
  name: string;
  status: string;
  draining: boolean;
  memoryBudgetMiB: number;
  memoryUsedMiB: number;
}

export type FleetAction = { kind: 'move' | 'clone'; vm: VmView };

interface CloneResult {
  email: string | null;
  vmId?: string;
  hostId?: string;
  replacedVmId?: string;
  error?: string;
}

interface GroupOption {
  id: string;
  name: string;
  members: { email: string }[];
}

/** Hosts a VM may go to: online and not draining. */
export function usableHosts(hosts: readonly FleetHost[]): FleetHost[] {
  return hosts.filter((h) => h.status === 'online' && !h.draining);
}

export function FleetDialog({
  action,
  hosts,
  onClose,
  onDone,
}: {
  action: FleetAction | null;
  hosts: readonly FleetHost[];
  onClose: () => void;
  onDone: (message: string) => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [hostId, setHostId] = useState('');
  const [mode, setMode] = useState<'count' | 'emails' | 'group'>('count');
  const [count, setCount] = useState(1);
  const [emails, setEmails] = useState('');
  const [groups, setGroups] = useState<GroupOption[]>([]);
  const [group, setGroup] = useState('');
  const [replace, setReplace] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!action) return;
    setHostId('');
    setError(null);
    setProblems([]);
    setReplace(false);
    if (!dialog.current?.open) dialog.current?.showModal();
    if (action.kind === 'clone') {
      api<{ groups: GroupOption[] }>('/api/admin/groups')
        .then(({ groups }) => setGroups(groups))
        .catch((err: unknown) => setError(errorText(err)));
    }
  }, [action]);

  const vm = action?.vm;
  const targets = usableHosts(hosts).filter((h) => action?.kind === 'clone' || h.id !== vm?.hostId);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!action || !vm) return;
    setBusy(true);
    setError(null);
    setProblems([]);
    try {
      if (action.kind === 'move') {
        await api(`/api/admin/vms/${vm.id}/move`, { body: { hostId } });
        onDone(`Moved ${vm.domainId ?? vm.id} to ${hostId}.`);
        dialog.current?.close();
        return;
      }
      const body = {
        ...(mode === 'count'
          ? { count }
          : mode === 'group'
            ? { group }
            : { emails: emails.split(/[\s,;]+/).filter((line) => line.length > 0) }),
        ...(mode !== 'count' && replace ? { replace } : {}),
        ...(hostId ? { hostId } : {}),
      };
      const { clones } = await api<{ clones: CloneResult[] }>(`/api/admin/vms/${vm.id}/clone`, {
        body,
      });
      const made = clones.filter((c) => c.vmId);
      const failed = clones.filter((c) => c.error);
      const replaced = made.filter((c) => c.replacedVmId).length;
      const replacedText = replaced > 0 ? ` (${replaced} replaced a desktop)` : '';
      if (failed.length === 0) {
        onDone(`Made ${made.length} cop${made.length === 1 ? 'y' : 'ies'}${replacedText}.`);
        dialog.current?.close();
      } else {
        if (made.length > 0) onDone(`Made ${made.length} of ${clones.length} copies.`);
        setProblems(failed.map((c) => c.error!));
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  const moving = action?.kind === 'move';
  return (
    <dialog ref={dialog} className="modal" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <div className="card-head">
          <h2>{moving ? 'Move to another host' : 'Clone'}</h2>
        </div>
        <div className="card-body stack">
          <p className="muted" style={{ margin: 0 }}>
            {moving ? (
              <>
                <strong className="mono">{vm?.domainId}</strong> of {vm?.owner?.email} keeps running
                while it moves from <strong>{vm?.hostId}</strong>; its viewers stay connected.
              </>
            ) : (
              <>
                Copies of <strong className="mono">{vm?.domainId}</strong> of {vm?.owner?.email},
                taken while it runs. Each has its own identity and disk.
              </>
            )}
          </p>
          {error && (
            <div className="alert alert-error" role="alert">
              {error}
            </div>
          )}
          {problems.length > 0 && (
            <div className="alert alert-error" role="alert">
              <ul style={{ margin: 0, paddingLeft: '1.2em' }}>
                {problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            </div>
          )}
          <label className="field">
            Host
            <select
              value={hostId}
              required={moving}
              onChange={(e) => setHostId(e.target.value)}
              aria-label="Host"
            >
              {moving ? (
                <option value="" disabled>
                  Choose a host…
                </option>
              ) : (
                <option value="">Where placement puts them</option>
              )}
              {targets.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.name} ({h.id}) · {h.memoryBudgetMiB - h.memoryUsedMiB} MiB free
                </option>
              ))}
            </select>
          </label>
          {!moving && (
            <>
              <div className="row" role="radiogroup" aria-label="Copies for">
                <label className="row small">
                  <input
                    type="radio"
                    name="clone-mode"
                    checked={mode === 'count'}
                    onChange={() => setMode('count')}
                  />
                  Copies for me
                </label>
                <label className="row small">
                  <input
                    type="radio"
                    name="clone-mode"
                    checked={mode === 'emails'}
                    onChange={() => setMode('emails')}
                  />
                  One desktop for each of these users
                </label>
                <label className="row small">
                  <input
                    type="radio"
                    name="clone-mode"
                    checked={mode === 'group'}
                    onChange={() => setMode('group')}
                  />
                  One desktop for each member of a group
                </label>
              </div>
              {mode === 'group' && (
                <label className="field">
                  Group
                  <select
                    value={group}
                    required
                    onChange={(e) => setGroup(e.target.value)}
                    aria-label="Group"
                  >
                    <option value="" disabled>
                      Choose a group…
                    </option>
                    {groups.map((g) => (
                      <option key={g.id} value={g.name}>
                        {g.name} ({g.members.length} member{g.members.length === 1 ? '' : 's'})
                      </option>
                    ))}
                  </select>
                </label>
              )}
              {mode !== 'count' && (
                <label className="row small">
                  <input
                    type="checkbox"
                    checked={replace}
                    onChange={(e) => setReplace(e.target.checked)}
                  />
                  Replace a desktop a user already has (it is destroyed); otherwise that user gets
                  no copy
                </label>
              )}
              {mode === 'group' ? null : mode === 'count' ? (
                <label className="field">
                  Number of copies
                  <input
                    type="number"
                    min={1}
                    max={MAX_CLONES}
                    value={count}
                    onChange={(e) => setCount(Number(e.target.value))}
                  />
                </label>
              ) : (
                <label className="field">
                  Email addresses (one a line; each becomes that user&apos;s personal desktop)
                  <textarea
                    rows={4}
                    value={emails}
                    placeholder={'ada@example.org\ngrace@example.org'}
                    onChange={(e) => setEmails(e.target.value)}
                  />
                </label>
              )}
            </>
          )}
        </div>
        <div className="card-foot row" style={{ justifyContent: 'flex-end' }}>
          <button type="button" className="btn" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={busy || (moving && !hostId)}>
            {busy ? '…' : moving ? 'Move' : 'Clone'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
