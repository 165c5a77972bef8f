import type { Metadata } from 'next';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { Check, Logo } from '@/components/icons';
import { safeNextPath } from '@/lib/safe-next';
import { SECOND_STEP_COOKIE } from '@/server/auth/oidc/cookies';
import { currentViewer } from '@/server/auth/request';
import { verifyChallenge } from '@/server/auth/tokens';
import { config } from '@/server/config';
import { LoginForm, type SecondStep } from './LoginForm';

export const metadata: Metadata = { title: 'Sign in' };
export const dynamic = 'force-dynamic';

const REASONS: Record<string, string> = {
  reuse: 'For your safety you were signed out everywhere: a sign-in token of yours was used twice.',
  expired: 'Your session expired. Please sign in again.',
};

/** Why a single sign-on came back without a session (web/src/server/auth/oidc/provider.ts). */
function ssoProblem(code: string, label: string): string {
  switch (code) {
    case 'off':
      return 'Single sign-on is not set up on this portal. Sign in with your email and password.';
    case 'unavailable':
      return `The sign-in service (${label}) cannot be reached right now. Try again in a moment, or sign in with your email and password.`;
    case 'denied':
      return `The sign-in at ${label} was cancelled or refused.`;
    case 'invalid':
      return 'That sign-in answer could not be verified (it may be old, used twice, or from another browser). Please start again.';
    case 'expired':
      return 'The sign-in took too long, or was started in another browser. Please start again.';
    case 'unverified':
      return `${label} did not confirm your email address, so it cannot be matched to a Raydesk account. Ask your administrator.`;
    case 'no_account':
      return 'There is no Raydesk account for you yet. Ask your administrator to create one.';
    case 'conflict':
      return `Your email's Raydesk account is already linked to another ${label} identity. Ask your administrator.`;
    case 'disabled':
      return 'This account is disabled.';
    default:
      return 'Single sign-on did not work. Please try again, or sign in with your email and password.';
  }
}

/** After a single sign-on whose second factor is still due: the challenge its callback left. */
async function pendingSecondStep(sso: string | undefined): Promise<SecondStep | null> {
  if (sso !== 'second-factor') return null;
  const challenge = (await cookies()).get(SECOND_STEP_COOKIE)?.value;
  if (!challenge) return null;
  const verified = await verifyChallenge(config().SESSION_SECRET, challenge);
  return verified ? { step: verified.step, challenge } : null;
}

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | undefined>>;
}) {
  const params = await searchParams;
  const next = safeNextPath(params.next);
  if (await currentViewer()) redirect(next);
  const notice = params.reason ? REASONS[params.reason] : undefined;
  const oidc = config().oidc;
  const secondStep = await pendingSecondStep(params.sso);
  const ssoError =
    params.sso && params.sso !== 'second-factor'
      ? ssoProblem(params.sso, oidc?.buttonLabel ?? 'your organisation')
      : params.sso === 'second-factor' && !secondStep
        ? ssoProblem('expired', '')
        : null;
  const sso = oidc
    ? {
        label: oidc.buttonLabel,
        href: `/api/auth/oidc/start?next=${encodeURIComponent(next)}`,
      }
    : null;
  return (
    <div className="auth-shell">
      <section className="auth-art">
        <div className="brand">
          <span className="brand-mark">
            <Logo />
          </span>
          Raydesk
        </div>
        <div>
          <h1>Your desktop, in any browser.</h1>
          <p>
            Sign in from any computer and pick up exactly where you left off. Your session follows
            you, like a smart card moved to another terminal.
          </p>
          <div className="auth-points">
            <div>
              <Check /> Nothing to install: a modern browser is all you need.
            </div>
            <div>
              <Check /> Your desktop keeps running when you close the tab, and is suspended when
              idle.
            </div>
            <div>
              <Check /> Disposable browsers for untrusted sites: wiped when you are done.
            </div>
          </div>
        </div>
        <div className="small" style={{ color: '#7e88a8' }}>
          Raydesk thin-client VDI
        </div>
      </section>
      <section className="auth-panel">
        <div className="auth-card">
          <h2>Sign in</h2>
          <p className="muted" style={{ margin: '6px 0 0' }}>
            Use the email address your administrator gave you.
          </p>
          {notice && (
            <div className="alert alert-info" style={{ marginTop: 18 }}>
              {notice}
            </div>
          )}
          {ssoError && (
            <div className="alert alert-error" role="alert" style={{ marginTop: 18 }}>
              {ssoError}
            </div>
          )}
          <LoginForm next={next} sso={sso} secondStep={secondStep} />
        </div>
      </section>
    </div>
  );
}
