'use client';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, errorText } from '@/lib/api';
import { secondFactorCodeSchema } from '@/lib/validation';
import {
  RecoveryCodes,
  SecondFactorSetup,
  type EnrolmentView,
} from '@/components/SecondFactorSetup';

interface Status {
  enabled: boolean;
  enabledAt: string | null;
  required: boolean;
  recoveryCodesLeft: number;
}

type Mode =
  | { kind: 'status' }
  | { kind: 'enrolling'; enrolment: EnrolmentView }
  | { kind: 'codes'; codes: string[] }
  | { kind: 'confirm'; action: 'disable' | 'new-codes' };

export function SecondFactorCard() {
  const [status, setStatus] = useState<Status | null>(null);
  const [mode, setMode] = useState<Mode>({ kind: 'status' });
  const [error, setError] = useState<string | null>(null);
  const [code, setCode] = useState('');

  const load = useCallback(async () => {
    try {
      setStatus(await api<Status>('/api/me/second-factor'));
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  async function startEnrolment() {
    setError(null);
    try {
      const enrolment = await api<EnrolmentView>('/api/me/second-factor/enroll', {
        method: 'POST',
      });
      setMode({ kind: 'enrolling', enrolment });
    } catch (e) {
      setError(errorText(e));
    }
  }

  async function confirmEnrolment(first: string): Promise<string | null> {
    try {
      const { recoveryCodes } = await api<{ recoveryCodes: string[] }>(
        '/api/me/second-factor/confirm',
        { body: { code: first } },
      );
      setMode({ kind: 'codes', codes: recoveryCodes });
      await load();
      return null;
    } catch (e) {
      return errorText(e);
    }
  }

  async function confirmAction(event: FormEvent, action: 'disable' | 'new-codes') {
    event.preventDefault();
    setError(null);
    const parsed = secondFactorCodeSchema.safeParse(code);
    if (!parsed.success) return setError(parsed.error.issues[0]?.message ?? 'Enter the code.');
    try {
      if (action === 'disable') {
        await api('/api/me/second-factor', { method: 'DELETE', body: { code: parsed.data } });
        setMode({ kind: 'status' });
      } else {
        const { recoveryCodes } = await api<{ recoveryCodes: string[] }>(
          '/api/me/second-factor/recovery-codes',
          { body: { code: parsed.data } },
        );
        setMode({ kind: 'codes', codes: recoveryCodes });
      }
      setCode('');
      await load();
    } catch (e) {
      setError(errorText(e));
      setCode('');
    }
  }

  return (
    <section className="card" aria-label="Two-step sign-in">
      <div className="card-head">
        <h2>Two-step sign-in</h2>
        {status && (
          <span className={`badge ${status.enabled ? 'badge-running' : ''}`}>
            {status.enabled ? 'On' : 'Off'}
          </span>
        )}
      </div>
      <div className="card-body stack">
        {error && (
          <div className="alert alert-error" role="alert">
            {error}
          </div>
        )}
        {mode.kind === 'enrolling' && (
          <SecondFactorSetup enrolment={mode.enrolment} onConfirm={confirmEnrolment} />
        )}
        {mode.kind === 'codes' && (
          <RecoveryCodes codes={mode.codes} onDone={() => setMode({ kind: 'status' })} />
        )}
        {mode.kind === 'confirm' && (
          <form className="stack" onSubmit={(e) => void confirmAction(e, mode.action)} noValidate>
            <label className="field">
              {mode.action === 'disable'
                ? 'To turn it off, enter a code from your app'
                : 'To get new recovery codes, enter a code from your app'}
              <input
                name="code"
                inputMode="numeric"
                autoComplete="one-time-code"
                autoFocus
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            </label>
            <div className="row" style={{ gap: 8 }}>
              <button className="btn btn-primary">
                {mode.action === 'disable' ? 'Turn off' : 'New recovery codes'}
              </button>
              <button type="button" className="btn" onClick={() => setMode({ kind: 'status' })}>
                Cancel
              </button>
            </div>
          </form>
        )}
        {mode.kind === 'status' && status && !status.enabled && (
          <>
            <p style={{ margin: 0 }}>
              Ask for a code from your phone at each sign-in, so a stolen password is not enough.
              {status.required && ' One of your groups requires it.'}
            </p>
            <div>
              <button className="btn btn-primary" onClick={() => void startEnrolment()}>
                Set up an authenticator app
              </button>
            </div>
          </>
        )}
        {mode.kind === 'status' && status?.enabled && (
          <>
            <p style={{ margin: 0 }}>
              On since {new Date(status.enabledAt ?? '').toLocaleDateString()}.{' '}
              {status.recoveryCodesLeft} recovery code{status.recoveryCodesLeft === 1 ? '' : 's'}{' '}
              left.
              {status.required && ' One of your groups requires it, so it stays on.'}
            </p>
            <div className="row" style={{ gap: 8 }}>
              <button
                className="btn"
                onClick={() => setMode({ kind: 'confirm', action: 'new-codes' })}
              >
                New recovery codes
              </button>
              {!status.required && (
                <button
                  className="btn btn-danger"
                  onClick={() => setMode({ kind: 'confirm', action: 'disable' })}
                >
                  Turn off
                </button>
              )}
            </div>
          </>
        )}
      </div>
    </section>
  );
}
