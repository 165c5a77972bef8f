import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { Check, Logo } from '@/components/icons';
import { safeNextPath } from '@/lib/safe-next';
import { currentViewer } from '@/server/auth/request';
import { LoginForm } from './LoginForm';

export const metadata: Metadata = { title: 'Sign in' };
export const dynamic = 'force-dynamic';

const REASONS: Record<string, string> = {
  reuse: 'For your safety you were signed out everywhere: a sign-in token of yours was used twice.',
  expired: 'Your session expired. Please sign in again.',
};

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | undefined>>;
}) {
  const params = await searchParams;
  const next = safeNextPath(params.next);
  if (await currentViewer()) redirect(next);
  const notice = params.reason ? REASONS[params.reason] : undefined;
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
          <LoginForm next={next} />
        </div>
      </section>
    </div>
  );
}
