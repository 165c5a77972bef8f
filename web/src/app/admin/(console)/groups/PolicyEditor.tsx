'use client';
// One group's session policy: clipboard and file directions with their sizes, recording,
// watermark, idle timeout, session length and the appliances members may start. Sizes are
// edited in KiB/MiB and sent in bytes; the body is checked with the server's own schema first.
import { useEffect, useState, type FormEvent } from 'react';
import { api, errorText } from '@/lib/api';
import { groupPolicySchema, type GroupPolicyInput } from '@/lib/validation';

export interface ApplianceChoice {
  name: string;
  title: string;
}

const KIB = 1024;
const MIB = 1024 * 1024;

/** The form's fields: sizes in their unit, times in minutes, as typed. */
interface Draft {
  clipboardToVm: boolean;
  clipboardFromVm: boolean;
  clipboardKiB: string;
  uploadEnabled: boolean;
  uploadMiB: string;
  downloadEnabled: boolean;
  downloadMiB: string;
  recording: boolean;
  watermark: boolean;
  idleTimeoutMinutes: string;
  maxSessionMinutes: string;
  anyAppliance: boolean;
  appliances: string[];
}

const trim = (n: number) => String(Math.round(n * 100) / 100);

function draftOf(policy: GroupPolicyInput): Draft {
  return {
    clipboardToVm: policy.clipboardToVm,
    clipboardFromVm: policy.clipboardFromVm,
    clipboardKiB: trim(policy.clipboardMaxBytes / KIB),
    uploadEnabled: policy.uploadEnabled,
    uploadMiB: trim(policy.uploadMaxBytes / MIB),
    downloadEnabled: policy.downloadEnabled,
    downloadMiB: trim(policy.downloadMaxBytes / MIB),
    recording: policy.recording,
    watermark: policy.watermark,
    idleTimeoutMinutes: String(policy.idleTimeoutMinutes),
    maxSessionMinutes: String(policy.maxSessionMinutes),
    anyAppliance: policy.appliances === null,
    appliances: policy.appliances ?? [],
  };
}

/** Numbers as typed; a field that is not a number stays NaN so the schema names it. */
const num = (text: string) => (text.trim() === '' ? NaN : Number(text));

function policyOf(draft: Draft): unknown {
  return {
    clipboardToVm: draft.clipboardToVm,
    clipboardFromVm: draft.clipboardFromVm,
    clipboardMaxBytes: Math.round(num(draft.clipboardKiB) * KIB),
    uploadEnabled: draft.uploadEnabled,
    uploadMaxBytes: Math.round(num(draft.uploadMiB) * MIB),
    downloadEnabled: draft.downloadEnabled,
    downloadMaxBytes: Math.round(num(draft.downloadMiB) * MIB),
    recording: draft.recording,
    watermark: draft.watermark,
    idleTimeoutMinutes: num(draft.idleTimeoutMinutes),
    maxSessionMinutes: num(draft.maxSessionMinutes),
    appliances: draft.anyAppliance ? null : draft.appliances,
  };
}

/** One line for the card's summary. */
export function policySummary(policy: GroupPolicyInput): string {
  const parts: string[] = [];
  const clip = [policy.clipboardToVm && 'in', policy.clipboardFromVm && 'out'].filter(Boolean);
  parts.push(
    clip.length === 2
      ? 'clipboard both ways'
      : clip.length
        ? `clipboard ${clip[0]} only`
        : 'no clipboard',
  );
  const files = [policy.uploadEnabled && 'upload', policy.downloadEnabled && 'download'].filter(
    Boolean,
  );
  parts.push(files.length ? files.join(' and ') : 'no files');
  if (policy.recording) parts.push('recorded');
  if (policy.watermark) parts.push('watermark');
  if (policy.idleTimeoutMinutes) parts.push(`idle ${policy.idleTimeoutMinutes} min`);
  if (policy.maxSessionMinutes) parts.push(`max ${policy.maxSessionMinutes} min`);
  if (policy.appliances) parts.push(`only ${policy.appliances.join(', ')}`);
  return parts.join(' · ');
}

function Check({
  label,
  checked,
  onChange,
}: {
  label: string;
  checked: boolean;
  onChange: (on: boolean) => void;
}) {
  return (
    <label className="row" style={{ gap: 8, alignItems: 'center' }}>
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  );
}

function Amount({
  label,
  unit,
  value,
  disabled,
  onChange,
}: {
  label: string;
  unit: string;
  value: string;
  disabled?: boolean;
  onChange: (text: string) => void;
}) {
  return (
    <label className="row small" style={{ gap: 6, alignItems: 'center' }}>
      {label}
      <input
        type="number"
        min={0}
        step="any"
        inputMode="decimal"
        aria-label={`${label} (${unit})`}
        style={{ width: 90 }}
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
      />
      {unit}
    </label>
  );
}

export function PolicyEditor({
  groupId,
  groupName,
  policy,
  appliances,
  onSaved,
}: {
  groupId: string;
  groupName: string;
  policy: GroupPolicyInput;
  appliances: ApplianceChoice[];
  onSaved: (message: string) => Promise<void>;
}) {
  const saved = JSON.stringify(policy);
  const [draft, setDraft] = useState<Draft>(() => draftOf(policy));
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // The page polls: take the stored policy unless the admin is editing.
  useEffect(() => {
    if (!dirty) setDraft(draftOf(JSON.parse(saved) as GroupPolicyInput));
  }, [saved, dirty]);

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setDirty(true);
    setError(null);
  };

  async function save(event: FormEvent) {
    event.preventDefault();
    const parsed = groupPolicySchema.safeParse(policyOf(draft));
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'Check the policy.');
      return;
    }
    setBusy(true);
    try {
      await api(`/api/admin/groups/${groupId}`, { method: 'PATCH', body: { policy: parsed.data } });
      setDirty(false);
      await onSaved(`Policy of ${groupName} saved.`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="stack"
      style={{ gap: 10 }}
      onSubmit={(e) => void save(e)}
      noValidate
      aria-label={`Policy of ${groupName}`}
    >
      {error && (
        <div className="alert alert-error" role="alert">
          {error}
        </div>
      )}
      <fieldset className="stack" style={{ gap: 6, border: 0, padding: 0, margin: 0 }}>
        <legend className="small muted">Clipboard</legend>
        <Check
          label="Paste into the desktop"
          checked={draft.clipboardToVm}
          onChange={(v) => set('clipboardToVm', v)}
        />
        <Check
          label="Copy from the desktop"
          checked={draft.clipboardFromVm}
          onChange={(v) => set('clipboardFromVm', v)}
        />
        <Amount
          label="Clipboard at most"
          unit="KiB"
          value={draft.clipboardKiB}
          disabled={!draft.clipboardToVm && !draft.clipboardFromVm}
          onChange={(v) => set('clipboardKiB', v)}
        />
      </fieldset>
      <fieldset className="stack" style={{ gap: 6, border: 0, padding: 0, margin: 0 }}>
        <legend className="small muted">Files</legend>
        <div className="row" style={{ gap: 12, flexWrap: 'wrap' }}>
          <Check
            label="Upload"
            checked={draft.uploadEnabled}
            onChange={(v) => set('uploadEnabled', v)}
          />
          <Amount
            label="at most"
            unit="MiB"
            value={draft.uploadMiB}
            disabled={!draft.uploadEnabled}
            onChange={(v) => set('uploadMiB', v)}
          />
        </div>
        <div className="row" style={{ gap: 12, flexWrap: 'wrap' }}>
          <Check
            label="Download"
            checked={draft.downloadEnabled}
            onChange={(v) => set('downloadEnabled', v)}
          />
          <Amount
            label="at most"
            unit="MiB"
            value={draft.downloadMiB}
            disabled={!draft.downloadEnabled}
            onChange={(v) => set('downloadMiB', v)}
          />
        </div>
      </fieldset>
      <fieldset className="stack" style={{ gap: 6, border: 0, padding: 0, margin: 0 }}>
        <legend className="small muted">Session</legend>
        <Check
          label="Record sessions"
          checked={draft.recording}
          onChange={(v) => set('recording', v)}
        />
        <Check
          label="Watermark the desktop"
          checked={draft.watermark}
          onChange={(v) => set('watermark', v)}
        />
        <Amount
          label="Disconnect after"
          unit="minutes without input (0: never)"
          value={draft.idleTimeoutMinutes}
          onChange={(v) => set('idleTimeoutMinutes', v)}
        />
        <Amount
          label="Longest session"
          unit="minutes (0: no limit)"
          value={draft.maxSessionMinutes}
          onChange={(v) => set('maxSessionMinutes', v)}
        />
      </fieldset>
      <fieldset className="stack" style={{ gap: 6, border: 0, padding: 0, margin: 0 }}>
        <legend className="small muted">Appliances members may start</legend>
        <Check
          label="Any appliance"
          checked={draft.anyAppliance}
          onChange={(v) => set('anyAppliance', v)}
        />
        {!draft.anyAppliance &&
          appliances.map((a) => (
            <Check
              key={a.name}
              label={a.title}
              checked={draft.appliances.includes(a.name)}
              onChange={(on) =>
                set(
                  'appliances',
                  on ? [...draft.appliances, a.name] : draft.appliances.filter((n) => n !== a.name),
                )
              }
            />
          ))}
      </fieldset>
      <div className="row" style={{ gap: 8 }}>
        <button className="btn btn-sm btn-primary" disabled={busy || !dirty}>
          Save policy
        </button>
        {dirty && (
          <button
            type="button"
            className="btn btn-sm"
            onClick={() => {
              setDirty(false);
              setError(null);
            }}
          >
            Discard changes
          </button>
        )}
      </div>
    </form>
  );
}
