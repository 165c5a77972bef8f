'use client';
import { useState, type FormEvent } from 'react';
import { api, errorText } from '@/lib/api';
import { createGroupSchema, groupMemberSchema, type GroupPolicyInput } from '@/lib/validation';
import { Toast } from '../../Toast';
import { usePoll, useToast } from '../../usePoll';
import { PolicyEditor, policySummary, type ApplianceChoice } from './PolicyEditor';

interface Group {
  id: string;
  name: string;
  requireTotp: boolean;
  policy: GroupPolicyInput;
  members: { id: string; email: string; name: string; totpEnabled: boolean }[];
}

function GroupCard({
  group,
  appliances,
  onChanged,
  show,
}: {
  group: Group;
  appliances: ApplianceChoice[];
  onChanged: () => Promise<void>;
  show: (message: string, isError?: boolean) => void;
}) {
  const [email, setEmail] = useState('');
  const [emailError, setEmailError] = useState<string | null>(null);

  async function act(call: () => Promise<unknown>, message: string) {
    try {
      await call();
      show(message);
    } catch (e) {
      show(errorText(e), true);
    }
    await onChanged();
  }

  async function add(event: FormEvent) {
    event.preventDefault();
    const parsed = groupMemberSchema.safeParse({ email });
    if (!parsed.success) {
      setEmailError(parsed.error.issues[0]?.message ?? 'Enter an email address.');
      return;
    }
    setEmailError(null);
    try {
      await api(`/api/admin/groups/${group.id}/members`, { body: parsed.data });
      show(`${parsed.data.email} added to ${group.name}.`);
      setEmail('');
    } catch (e) {
      setEmailError(errorText(e));
    }
    await onChanged();
  }

  const withoutTotp = group.members.filter((m) => !m.totpEnabled).length;
  return (
    <section className="card" aria-label={`Group ${group.name}`}>
      <div className="card-head">
        <div>
          <h2>{group.name}</h2>
          <div className="muted small">
            {group.members.length} member{group.members.length === 1 ? '' : 's'}
          </div>
        </div>
        <button
          className="btn btn-sm btn-danger"
          onClick={() => {
            if (window.confirm(`Delete the group ${group.name}? Its members stay.`)) {
              void act(
                () => api(`/api/admin/groups/${group.id}`, { method: 'DELETE' }),
                `Group ${group.name} deleted.`,
              );
            }
          }}
        >
          Delete
        </button>
      </div>
      <div className="card-body stack">
        <label className="row" style={{ gap: 8, alignItems: 'center' }}>
          <input
            type="checkbox"
            checked={group.requireTotp}
            onChange={(e) =>
              void act(
                () =>
                  api(`/api/admin/groups/${group.id}`, {
                    method: 'PATCH',
                    body: { requireTotp: e.target.checked },
                  }),
                e.target.checked
                  ? `${group.name} now requires two-step sign-in.`
                  : `${group.name} no longer requires two-step sign-in.`,
              )
            }
          />
          Require two-step sign-in (authenticator app)
        </label>
        {group.requireTotp && withoutTotp > 0 && (
          <p className="muted small" style={{ margin: 0 }}>
            {withoutTotp} member{withoutTotp === 1 ? '' : 's'} will set it up at the next sign-in.
          </p>
        )}
        <details>
          <summary>
            Policy <span className="muted small">{policySummary(group.policy)}</span>
          </summary>
          <div style={{ paddingTop: 10 }}>
            <PolicyEditor
              groupId={group.id}
              groupName={group.name}
              policy={group.policy}
              appliances={appliances}
              onSaved={async (message) => {
                show(message);
                await onChanged();
              }}
            />
          </div>
        </details>
        <ul className="stack" style={{ listStyle: 'none', padding: 0, margin: 0, gap: 6 }}>
          {group.members.map((m) => (
            <li key={m.id} className="row" style={{ justifyContent: 'space-between' }}>
              <span>
                {m.name} <span className="muted small">{m.email}</span>{' '}
                {m.totpEnabled && <span className="badge">Two-step</span>}
              </span>
              <button
                className="btn btn-sm"
                aria-label={`Remove ${m.email} from ${group.name}`}
                onClick={() =>
                  void act(
                    () =>
                      api(`/api/admin/groups/${group.id}/members`, {
                        method: 'DELETE',
                        body: { userId: m.id },
                      }),
                    `${m.email} removed from ${group.name}.`,
                  )
                }
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
        <form className="row" onSubmit={(e) => void add(e)} noValidate style={{ gap: 8 }}>
          <label className="field" style={{ flex: 1, margin: 0 }}>
            <input
              type="email"
              placeholder="Add a member by email"
              aria-label={`Add a member to ${group.name}`}
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              aria-invalid={emailError ? true : undefined}
            />
            {emailError && <span className="field-error">{emailError}</span>}
          </label>
          <button className="btn btn-sm">Add</button>
        </form>
      </div>
    </section>
  );
}

export function GroupsClient() {
  const { data, error, reload } = usePoll<{ groups: Group[]; appliances: ApplianceChoice[] }>(
    '/api/admin/groups',
    5000,
  );
  const { toast, show } = useToast();
  const [name, setName] = useState('');
  const [requireTotp, setRequireTotp] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);

  async function create(event: FormEvent) {
    event.preventDefault();
    const parsed = createGroupSchema.safeParse({ name, requireTotp });
    if (!parsed.success) {
      setFormError(parsed.error.issues[0]?.message ?? 'Check the name.');
      return;
    }
    setFormError(null);
    try {
      await api('/api/admin/groups', { body: parsed.data });
      show(`Group ${parsed.data.name} created.`);
      setName('');
      setRequireTotp(false);
    } catch (e) {
      setFormError(errorText(e));
    }
    await reload();
  }

  const groups = data?.groups ?? [];
  return (
    <div className="stack" style={{ gap: 20 }}>
      <section className="card">
        <div className="card-head">
          <h2>Add a group</h2>
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
              <input type="text" value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <label className="row" style={{ gap: 8, alignItems: 'center', alignSelf: 'end' }}>
              <input
                type="checkbox"
                checked={requireTotp}
                onChange={(e) => setRequireTotp(e.target.checked)}
              />
              Require two-step sign-in
            </label>
          </div>
          <div>
            <button className="btn btn-primary">Create group</button>
          </div>
        </form>
      </section>
      {error && <div className="alert alert-error">{error}</div>}
      {data && groups.length === 0 && (
        <p className="muted">
          No groups yet. Groups carry rules for their members; a user in several gets the strictest.
        </p>
      )}
      <div
        className="grid"
        style={{ gridTemplateColumns: 'repeat(auto-fill, minmax(360px, 1fr))' }}
      >
        {groups.map((g) => (
          <GroupCard
            key={g.id}
            group={g}
            appliances={data?.appliances ?? []}
            onChanged={reload}
            show={show}
          />
        ))}
      </div>
      <Toast toast={toast} />
    </div>
  );
}
