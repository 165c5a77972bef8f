'use client';
// Setting up an authenticator app: the QR code, the secret for typing in by hand, and the field
// for the first code. Used at sign-in (when a group requires it) and on the account page.
import { useState, type FormEvent } from 'react';
import { secondFactorCodeSchema } from '@/lib/validation';

export interface EnrolmentView {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

export function SecondFactorSetup({
  enrolment,
  onConfirm,
}: {
  enrolment: EnrolmentView;
  /** Resolves to an error message, or null when the code was accepted. */
  onConfirm: (code: string) => Promise<string | null>;
}) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = secondFactorCodeSchema.safeParse(code);
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'Enter the code.');
      return;
    }
    setBusy(true);
    const problem = await onConfirm(parsed.data);
    setBusy(false);
    if (problem) {
      setError(problem);
      setCode('');
    }
  }

  return (
    <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
      <p className="muted" style={{ margin: 0 }}>
        Scan this code with an authenticator app (for example Aegis, Google Authenticator or
        1Password), then enter the six-digit code it shows.
      </p>
      <img
        src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qrSvg)}`}
        alt="QR code for your authenticator app"
        width={184}
        height={184}
        style={{ alignSelf: 'center', background: '#fff', padding: 8, borderRadius: 8 }}
      />
      <div className="small">
        Cannot scan? Enter this key:{' '}
        <code className="mono" data-testid="totp-secret">
          {enrolment.secret}
        </code>
      </div>
      {error && (
        <div className="alert alert-error" role="alert">
          {error}
        </div>
      )}
      <label className="field">
        Code from the app
        <input
          name="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          autoFocus
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Checking…' : 'Turn on two-step sign-in'}
      </button>
    </form>
  );
}

export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <div className="stack">
      <div className="alert alert-info">
        Keep these recovery codes somewhere safe. Each signs you in once if you lose your phone.
        They are shown only now.
      </div>
      <ol className="mono" data-testid="recovery-codes" style={{ columns: 2, margin: 0 }}>
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ol>
      <button type="button" className="btn btn-primary" onClick={onDone}>
        I have saved them
      </button>
    </div>
  );
}
