'use client';
import { useEffect, useState, type FormEvent } from 'react';
import { loginSchema, secondFactorCodeSchema } from '@/lib/validation';
import { api, ApiError, errorText } from '@/lib/api';
import { safeNextPath } from '@/lib/safe-next';
import {
  RecoveryCodes,
  SecondFactorSetup,
  type EnrolmentView,
} from '@/components/SecondFactorSetup';

type Step =
  | { kind: 'password' }
  | { kind: 'totp'; challenge: string }
  | { kind: 'enroll'; challenge: string; enrolment: EnrolmentView | null }
  | { kind: 'recovery-codes'; codes: string[] };

/** A second factor still due, with the challenge that names the user. */
export interface SecondStep {
  step: 'totp' | 'enroll';
  challenge: string;
}

interface LoginAnswer {
  secondFactor?: SecondStep;
}

export function LoginForm({
  next,
  sso = null,
  secondStep = null,
}: {
  next: string;
  /** "Sign in with <label>" (single sign-on), when configured. */
  sso?: { label: string; href: string } | null;
  /** A single sign-on came back needing the second factor. */
  secondStep?: SecondStep | null;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [step, setStep] = useState<Step>(() =>
    secondStep
      ? secondStep.step === 'totp'
        ? { kind: 'totp', challenge: secondStep.challenge }
        : { kind: 'enroll', challenge: secondStep.challenge, enrolment: null }
      : { kind: 'password' },
  );
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  // Checked again here: `next` came from the address bar.
  const enter = () => window.location.assign(safeNextPath(next));

  /** A second step that fails because the challenge expired starts over at the password. */
  function failed(e: unknown) {
    setError(errorText(e));
    if (e instanceof ApiError && e.code === 'challenge_expired') {
      setStep({ kind: 'password' });
      setPassword('');
    }
  }

  async function submitPassword(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const parsed = loginSchema.safeParse({ email, password });
    if (!parsed.success) {
      const errs: Record<string, string> = {};
      for (const issue of parsed.error.issues) errs[String(issue.path[0])] ??= issue.message;
      setFieldErrors(errs);
      return;
    }
    setFieldErrors({});
    setBusy(true);
    try {
      const answer = await api<LoginAnswer>('/api/auth/login', { body: parsed.data });
      const second = answer.secondFactor;
      if (!second) return enter();
      setBusy(false);
      if (second.step === 'totp') return setStep({ kind: 'totp', challenge: second.challenge });
      setStep({ kind: 'enroll', challenge: second.challenge, enrolment: null });
      await loadEnrolment(second.challenge);
    } catch (e) {
      setError(errorText(e));
      if (e instanceof ApiError && e.code === 'invalid_credentials') setPassword('');
      setBusy(false);
    }
  }

  async function loadEnrolment(challenge: string) {
    const enrolment = await api<EnrolmentView>('/api/auth/second-factor/enroll', {
      body: { challenge },
    });
    setStep({ kind: 'enroll', challenge, enrolment });
  }

  // After a single sign-on that must enrol a second factor: fetch the secret to enrol once.
  useEffect(() => {
    if (secondStep?.step !== 'enroll') return;
    loadEnrolment(secondStep.challenge).catch(failed);
  }, [secondStep]);

  async function submitCode(event: FormEvent, challenge: string) {
    event.preventDefault();
    setError(null);
    const parsed = secondFactorCodeSchema.safeParse(code);
    if (!parsed.success) return setError(parsed.error.issues[0]?.message ?? 'Enter the code.');
    setBusy(true);
    try {
      await api('/api/auth/second-factor', { body: { challenge, code: parsed.data } });
      enter();
    } catch (e) {
      failed(e);
      setCode('');
      setBusy(false);
    }
  }

  async function confirmEnrolment(challenge: string, first: string): Promise<string | null> {
    try {
      const { recoveryCodes } = await api<{ recoveryCodes: string[] | null }>(
        '/api/auth/second-factor',
        { body: { challenge, code: first } },
      );
      setStep({ kind: 'recovery-codes', codes: recoveryCodes ?? [] });
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'challenge_expired') failed(e);
      return errorText(e);
    }
  }

  const alert = error && (
    <div className="alert alert-error" role="alert">
      {error}
    </div>
  );

  if (step.kind === 'recovery-codes') return <RecoveryCodes codes={step.codes} onDone={enter} />;

  if (step.kind === 'enroll') {
    return (
      <div className="stack">
        <h3 style={{ margin: '12px 0 0' }}>Set up two-step sign-in</h3>
        <p className="muted small" style={{ margin: 0 }}>
          Your organisation requires a code from your phone at each sign-in.
        </p>
        {alert}
        {step.enrolment ? (
          <SecondFactorSetup
            enrolment={step.enrolment}
            onConfirm={(first) => confirmEnrolment(step.challenge, first)}
          />
        ) : (
          <p className="muted">Preparing…</p>
        )}
      </div>
    );
  }

  if (step.kind === 'totp') {
    return (
      <form onSubmit={(e) => void submitCode(e, step.challenge)} noValidate>
        <p className="muted" style={{ margin: '12px 0 0' }}>
          Enter the six-digit code from your authenticator app, or one of your recovery codes.
        </p>
        {alert}
        <label className="field">
          Code
          <input
            name="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            autoFocus
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
        </label>
        <button type="submit" className="btn btn-primary btn-lg" disabled={busy}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
      </form>
    );
  }

  return (
    <form onSubmit={(e) => void submitPassword(e)} noValidate>
      {alert}
      <label className="field">
        Email
        <input
          type="email"
          name="email"
          autoComplete="username"
          autoFocus
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          aria-invalid={fieldErrors.email ? true : undefined}
        />
        {fieldErrors.email && <span className="field-error">{fieldErrors.email}</span>}
      </label>
      <label className="field">
        Password
        <input
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={fieldErrors.password ? true : undefined}
        />
        {fieldErrors.password && <span className="field-error">{fieldErrors.password}</span>}
      </label>
      <button type="submit" className="btn btn-primary btn-lg" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      {sso && (
        <>
          <div className="auth-or" aria-hidden="true">
            <span>or</span>
          </div>
          {/* A plain navigation: the flow leaves for the provider's sign-in page. */}
          <a className="btn btn-lg auth-sso" href={sso.href}>
            Sign in with {sso.label}
          </a>
        </>
      )}
    </form>
  );
}
