'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState } from 'react';
import { Globe, Logo } from '@/components/icons';
import { api, errorText } from '@/lib/api';

/** Creates a fresh disposable browser VM, then shows it in this tab. */
export function NewBrowser() {
  const router = useRouter();
  const started = useRef(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    api<{ vm: { id: string } }>('/api/vms/disposable', { method: 'POST' })
      .then(({ vm }) => router.replace(`/browser/${vm.id}`))
      .catch((e) => setError(errorText(e)));
  }, [router]);
  return (
    <div className="viewer-shell">
      <div className="viewer-bar">
        <span className="brand-mark" style={{ width: 22, height: 22, borderRadius: 6 }}>
          <Logo size={13} />
        </span>
        <Globe size={16} /> <strong style={{ color: '#fff' }}>Disposable browser</strong>
        <span className="spacer" />
        <Link className="btn" href="/">
          Back to portal
        </Link>
      </div>
      <div className="viewer-notice" role="note">
        <Globe size={16} /> Disposable browser: its disk is wiped and nothing is kept when it
        closes, and its network access is filtered.
      </div>
      <div className="viewer-stage">
        <div className="viewer-overlay">
          <div className="box">
            {error ? (
              <>
                <h2>Could not start a browser</h2>
                <p role="alert">{error}</p>
                <Link className="btn" href="/" style={{ marginTop: 12 }}>
                  Back to portal
                </Link>
              </>
            ) : (
              <>
                <div className="spinner" />
                <h2>Starting a fresh browser…</h2>
                <p>
                  A new, isolated machine is being prepared just for you. It takes a few seconds.
                </p>
              </>
            )}
          </div>
        </div>
      </div>
    </div>
  );
}
