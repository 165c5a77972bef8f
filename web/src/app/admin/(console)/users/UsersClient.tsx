'use client';
import { DataTable } from '../../DataTable';
import { useRef, useState, type FormEvent } from 'react';
import { api, ApiError, errorText } from '@/lib/api';
import { mib, since } from '@/lib/format';
import { createUserSchema, newPasswordSchema } from '@/lib/validation';
import { Toast } from '../../Toast';
import { usePoll, useToast } from '../../usePoll';

interface User {
  id: string;
  email: string;
  name: string;
  role: 'user' | 'admin';
  disabled: boolean;
  maxVms: number;
  maxMemoryMiB: number;
  vms: number;
  memoryMiB: number;
  lastLoginAt: string | null;
  totpEnabled: boolean;
  signInFailures: { failures: number; lockedAddresses: number };
}

/** Short badges (the table is wide); the title says the rest. */
function SignInStatus({ user }: { user: User }) {
  const { failures, lockedAddresses } = user.signInFailures;
  const recent = `${failures} failed sign-in${failures === 1 ? '' : 's'} in the lockout window`;
  if (lockedAddresses > 0) {
    return (
      <span
        className="badge badge-danger"
        title={`${recent}; ${lockedAddresses} address${lockedAddresses === 1 ? ' is' : 'es are'} locked out of this account. Its owner's own addresses are never locked by failures elsewhere.`}
      >
        Locked out
      </span>
    );
  }
  if (failures > 0) {
    return (
      <span className="badge badge-warn" title={recent}>
        {failures} failed
      </span>
    );
  }
  return null;
}

const EMPTY = {
  email: '',
  name: '',
  password: '',
  role: 'user',
  maxVms: '2',
  maxMemoryMiB: '1024',
};

export function UsersClient() {
  const { data, error, reload } = usePoll<{ users: User[] }>('/api/admin/users', 5000);
  const { toast, show } = useToast();
  const [form, setForm] = useState(EMPTY);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [resetFor, setResetFor] = useState<User | null>(null);
  const [newPassword, setNewPassword] = useState('');
  const [resetError, setResetError] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  async function create(event: FormEvent) {
    event.preventDefault();
    setFormError(null);
    const parsed = createUserSchema.safeParse(form);
    if (!parsed.success) {
      const errs: Record<string, string> = {};
      for (const issue of parsed.error.issues) errs[String(issue.path[0])] ??= issue.message;
      setErrors(errs);
      return;
    }
    setErrors({});
    setCreating(true);
    try {
      await api('/api/admin/users', { body: parsed.data });
      show(`Created ${parsed.data.email}.`);
      setForm(EMPTY);
      await reload();
    } catch (e) {
      if (e instanceof ApiError && e.issues.length)
        setErrors(Object.fromEntries(e.issues.map((i) => [i.path, i.message])));
      setFormError(errorText(e));
    } finally {
      setCreating(false);
    }
  }

  async function update(
    user: User,
    patch: Partial<Pick<User, 'role' | 'disabled' | 'maxVms' | 'maxMemoryMiB'>>,
    message: string,
  ) {
    try {
      await api(`/api/admin/users/${user.id}`, { method: 'PATCH', body: patch });
      show(message);
      await reload();
    } catch (e) {
      show(errorText(e), true);
      await reload();
    }
  }

  async function unlock(user: User) {
    try {
      const { failuresCleared } = await api<{ failuresCleared: number }>(
        `/api/admin/users/${user.id}/unlock`,
        { method: 'POST' },
      );
      show(
        `${user.email} unlocked: ${failuresCleared} failed sign-in${failuresCleared === 1 ? '' : 's'} cleared.`,
      );
    } catch (e) {
      show(errorText(e), true);
    }
    await reload();
  }

  async function resetSecondFactor(user: User) {
    if (
      !window.confirm(
        `Remove ${user.email}'s two-step sign-in? They sign in with their password alone, or enrol again if a group requires it.`,
      )
    )
      return;
    try {
      await api(`/api/admin/users/${user.id}/second-factor`, { method: 'DELETE' });
      show(`Two-step sign-in of ${user.email} removed.`);
    } catch (e) {
      show(errorText(e), true);
    }
    await reload();
  }

  async function resetPassword(event: FormEvent) {
    event.preventDefault();
    if (!resetFor) return;
    const parsed = newPasswordSchema.safeParse(newPassword);
    if (!parsed.success) {
      setResetError(parsed.error.issues[0]?.message ?? 'Invalid password.');
      return;
    }
    try {
      await api(`/api/admin/users/${resetFor.id}/password`, { body: { password: parsed.data } });
      show(`New password set for ${resetFor.email}; their sessions were signed out.`);
      dialog.current?.close();
      setResetFor(null);
    } catch (e) {
      setResetError(errorText(e));
    }
  }

  const field = (name: keyof typeof EMPTY) => ({
    value: form[name],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [name]: e.target.value }),
    'aria-invalid': errors[name] ? true : undefined,
  });
  const users = data?.users ?? [];

  return (
    <div className="stack" style={{ gap: 20 }}>
      <section className="card">
        <div className="card-head">
          <h2>Add a user</h2>
        </div>
        <form className="card-body stack" onSubmit={(e) => void create(e)} noValidate>
          {formError && (
            <div className="alert alert-error" role="alert">
              {formError}
            </div>
          )}
          <div className="form-grid">
            <label className="field">
              Name
              <input type="text" {...field('name')} />
              {errors.name && <span className="field-error">{errors.name}</span>}
            </label>
            <label className="field">
              Email
              <input type="email" autoComplete="off" {...field('email')} />
              {errors.email && <span className="field-error">{errors.email}</span>}
            </label>
            <label className="field">
              Initial password
              <input type="password" autoComplete="new-password" {...field('password')} />
              {errors.password && <span className="field-error">{errors.password}</span>}
            </label>
            <label className="field">
              Role
              <select {...field('role')}>
                <option value="user">User</option>
                <option value="admin">Administrator</option>
              </select>
            </label>
            <label className="field">
              Max VMs
              <input type="number" min={0} {...field('maxVms')} />
              {errors.maxVms && <span className="field-error">{errors.maxVms}</span>}
            </label>
            <label className="field">
              Memory quota (MiB)
              <input type="number" min={0} step={64} {...field('maxMemoryMiB')} />
              {errors.maxMemoryMiB && <span className="field-error">{errors.maxMemoryMiB}</span>}
            </label>
          </div>
          <div>
            <button className="btn btn-primary" disabled={creating}>
              {creating ? 'Creating…' : 'Create user'}
            </button>
          </div>
        </form>
      </section>

      <section className="card">
        <div className="card-head">
          <h2>People</h2>
          <span className={`live-dot${error ? ' stale' : ''}`}>
            {error ?? `${users.length} account${users.length === 1 ? '' : 's'}`}
          </span>
        </div>
        <DataTable
          columns={[
            'User',
            'Role',
            'Status',
            'Max VMs',
            'Memory quota',
            'In use',
            'Last sign-in',
            'Actions>',
          ]}
        >
          {users.map((u) => (
            <tr key={u.id} data-user={u.email}>
              <td>
                <div style={{ fontWeight: 600 }}>{u.name}</div>
                <div className="muted small">{u.email}</div>
              </td>
              <td>
                <select
                  className="compact"
                  aria-label={`Role of ${u.email}`}
                  value={u.role}
                  onChange={(e) =>
                    void update(
                      u,
                      { role: e.target.value as User['role'] },
                      `Role of ${u.email} set to ${e.target.value}.`,
                    )
                  }
                >
                  <option value="user">User</option>
                  <option value="admin">Administrator</option>
                </select>
              </td>
              <td>
                <div className="stack" style={{ gap: 4, alignItems: 'flex-start' }}>
                  {u.disabled ? (
                    <span className="badge badge-danger">Disabled</span>
                  ) : (
                    <span className="badge badge-running">Active</span>
                  )}
                  <SignInStatus user={u} />
                  {u.totpEnabled && (
                    <span className="badge" title="Signs in with a code from an authenticator app">
                      Two-step
                    </span>
                  )}
                </div>
              </td>
              <td>
                <input
                  className="compact"
                  style={{ width: 76 }}
                  type="number"
                  min={0}
                  aria-label={`Max VMs of ${u.email}`}
                  defaultValue={u.maxVms}
                  onBlur={(e) => {
                    if (Number(e.target.value) !== u.maxVms)
                      void update(u, { maxVms: Number(e.target.value) }, 'Quota saved.');
                  }}
                />
              </td>
              <td>
                <input
                  className="compact"
                  style={{ width: 96 }}
                  type="number"
                  min={0}
                  step={64}
                  aria-label={`Memory quota of ${u.email}`}
                  defaultValue={u.maxMemoryMiB}
                  onBlur={(e) => {
                    if (Number(e.target.value) !== u.maxMemoryMiB)
                      void update(u, { maxMemoryMiB: Number(e.target.value) }, 'Quota saved.');
                  }}
                />
              </td>
              <td className="small">
                {u.vms} VM{u.vms === 1 ? '' : 's'} · {mib(u.memoryMiB)}
              </td>
              <td className="small">{u.lastLoginAt ? since(u.lastLoginAt) : 'never'}</td>
              <td style={{ textAlign: 'right' }}>
                <div className="row actions">
                  {u.signInFailures.failures > 0 && (
                    <button
                      className="btn btn-sm"
                      title="Clear this account's failed sign-ins so every address may try again"
                      onClick={() => void unlock(u)}
                    >
                      Unlock
                    </button>
                  )}
                  {u.totpEnabled && (
                    <button
                      className="btn btn-sm"
                      title="For a lost phone: removes the authenticator and recovery codes"
                      onClick={() => void resetSecondFactor(u)}
                    >
                      Reset two-step
                    </button>
                  )}
                  <button
                    className="btn btn-sm"
                    onClick={() => {
                      setResetFor(u);
                      setNewPassword('');
                      setResetError(null);
                      dialog.current?.showModal();
                    }}
                  >
                    Reset password
                  </button>
                  <button
                    className={`btn btn-sm${u.disabled ? '' : ' btn-danger'}`}
                    onClick={() =>
                      void update(
                        u,
                        { disabled: !u.disabled },
                        u.disabled ? `${u.email} enabled.` : `${u.email} disabled and signed out.`,
                      )
                    }
                  >
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </DataTable>
      </section>

      <dialog ref={dialog} className="modal" onClose={() => setResetFor(null)}>
        <form onSubmit={(e) => void resetPassword(e)}>
          <div className="card-head">
            <h2>Reset password</h2>
          </div>
          <div className="card-body stack">
            <p className="muted" style={{ margin: 0 }}>
              Set a new password for <strong>{resetFor?.email}</strong>. They are signed out
              everywhere and their lockout is cleared.
            </p>
            {resetError && (
              <div className="alert alert-error" role="alert">
                {resetError}
              </div>
            )}
            <label className="field">
              New password
              <input
                type="password"
                autoComplete="new-password"
                value={newPassword}
                onChange={(e) => setNewPassword(e.target.value)}
              />
            </label>
          </div>
          <div className="card-foot row" style={{ justifyContent: 'flex-end' }}>
            <button type="button" className="btn" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button className="btn btn-primary">Set password</button>
          </div>
        </form>
      </dialog>
      <Toast toast={toast} />
    </div>
  );
}
