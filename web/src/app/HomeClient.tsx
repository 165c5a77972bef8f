'use client';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { Eye, Globe, Monitor, Plug, Shield, Trash } from '@/components/icons';
import { api, errorText } from '@/lib/api';
import { startEarlyAttach } from '@raydesk/viewer/early-attach';
import { dateTime, mib, since, STATE_LABEL } from '@/lib/format';
import type { HomeData } from '@/server/home';

/** How the layouts the hypervisor offers are named to people. */
const LAYOUT_NAMES: Record<string, string> = {
  us: 'English (US)',
  gb: 'English (UK)',
  de: 'German',
  fr: 'French',
};

/** The desktop's keyboard layout; the desktop follows a change within seconds. */
function KeyboardLayoutSetting({
  value,
  options,
  onSaved,
}: {
  value: string;
  options: readonly string[];
  onSaved: () => void;
}) {
  const [status, setStatus] = useState<string | null>(null);
  // Shows the choice at once; the stored value (polled) takes over when it changes.
  const [selected, setSelected] = useState(value);
  useEffect(() => setSelected(value), [value]);
  async function choose(keyboardLayout: string) {
    setSelected(keyboardLayout);
    setStatus('Saving…');
    try {
      await api('/api/me', { method: 'PATCH', body: { keyboardLayout } });
      setStatus('Saved. Your desktop uses it from now on.');
      onSaved();
    } catch (e) {
      setStatus(errorText(e));
    }
  }
  return (
    <div className="card-foot small row" style={{ gap: 10, flexWrap: 'wrap' }}>
      <label htmlFor="keyboard-layout" style={{ fontWeight: 600 }}>
        Keyboard layout
      </label>
      <select
        id="keyboard-layout"
        className="compact"
        value={selected}
        onChange={(e) => void choose(e.target.value)}
      >
        {options.map((layout) => (
          <option key={layout} value={layout}>
            {LAYOUT_NAMES[layout] ?? layout}
          </option>
        ))}
      </select>
      <span className="muted" role="status">
        {status ?? 'The layout your desktop types with (AltGr and dead keys included).'}
      </span>
    </div>
  );
}

function usePolling<T>(
  url: string,
  initial: T,
  everyMs: number,
): [T, () => Promise<void>, boolean] {
  const [data, setData] = useState(initial);
  const [stale, setStale] = useState(false);
  const load = async () => {
    try {
      setData(await api<T>(url));
      setStale(false);
    } catch {
      setStale(true);
    }
  };
  useEffect(() => {
    const timer = setInterval(() => void load(), everyMs);
    return () => clearInterval(timer);
  }, [url, everyMs]);
  return [data, load, stale];
}

/** What "Open desktop" answers (api/desktop/open). */
interface OpenAnswer {
  vm: { id: string; domainId: string | null };
  attach: { token: string; gatewayUrl: string; path: string } | null;
}

export function HomeClient({ initial }: { initial: HomeData }) {
  const router = useRouter();
  const [data, reload, stale] = usePolling<HomeData>('/api/me', initial, 4000);
  const [opening, setOpening] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const desktop = data.desktop;
  const state = desktop?.state ?? 'none';
  const stateClass = state === 'saved' ? 'saved' : state;

  async function openDesktop() {
    setError(null);
    setOpening(true);
    try {
      const { vm, attach } = await api<OpenAnswer>('/api/desktop/open', { method: 'POST' });
      // Join the gateway now: the desktop page's viewer adopts the connection when it mounts.
      if (attach && vm.domainId)
        startEarlyAttach({
          vmId: vm.domainId,
          gatewayUrl: attach.gatewayUrl,
          path: attach.path,
          token: attach.token,
        });
      router.push(`/desktop/${vm.id}`);
    } catch (e) {
      setError(errorText(e));
      setOpening(false);
    }
  }

  function openBrowser() {
    // Opened synchronously from the click so popup blockers allow it; that page creates the VM.
    const tab = window.open('/browser/new', '_blank');
    if (!tab) router.push('/browser/new');
    setTimeout(() => void reload(), 3000);
  }

  async function closeDisposable(id: string) {
    try {
      await api(`/api/vms/${id}`, { method: 'DELETE' });
      await reload();
    } catch (e) {
      setError(errorText(e));
    }
  }

  const action =
    state === 'none'
      ? 'Open desktop'
      : state === 'running'
        ? 'Open desktop'
        : 'Resume and open desktop';
  const blurb =
    state === 'none'
      ? 'You do not have a desktop yet. Opening it for the first time creates it from the standard desktop image; that takes a few seconds.'
      : state === 'running'
        ? 'Your desktop is running. Open it here, or on any other computer: the session moves with you.'
        : state === 'saved'
          ? 'Your desktop is suspended to disk. Opening it resumes it exactly where you left it.'
          : state === 'paused'
            ? 'Your desktop is paused. Opening it resumes it.'
            : state === 'crashed'
              ? 'Your desktop stopped unexpectedly. Opening it restarts it.'
              : 'Your desktop is changing state; it will be ready in a moment.';

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Welcome back{data.user.name ? `, ${data.user.name.split(' ')[0]}` : ''}</h1>
          <p>Your personal desktop and disposable browsers, from any browser.</p>
        </div>
        <span className={`live-dot${stale ? ' stale' : ''}`}>
          {stale ? 'Reconnecting…' : 'Live'}
        </span>
      </div>

      {error && (
        <div className="alert alert-error" role="alert" style={{ marginBottom: 18 }}>
          {error}
        </div>
      )}
      {data.watchedBy.map((w, i) => (
        <div key={i} className="alert alert-warn" style={{ marginBottom: 18 }}>
          <Eye /> {w.admin} (administrator) is viewing your desktop, read-only, since{' '}
          {dateTime(w.since)}.
        </div>
      ))}

      <section className="hero" aria-label="Personal desktop">
        <div className="hero-inner">
          <div>
            <div className="row" style={{ marginBottom: 12 }}>
              <span className={`badge badge-${stateClass}`} data-testid="desktop-state">
                {STATE_LABEL[state] ?? state}
              </span>
              {desktop && (
                <span className="small" style={{ color: '#8f99b8' }}>
                  {desktop.applianceTitle || 'Desktop'} · {mib(desktop.memoryMiB)}
                </span>
              )}
            </div>
            <h2>My desktop</h2>
            <p>{blurb}</p>
            <div className="row">
              <button
                className="btn btn-primary btn-lg"
                onClick={() => void openDesktop()}
                disabled={opening}
              >
                <Monitor />{' '}
                {opening ? (state === 'none' ? 'Creating your desktop…' : 'Opening…') : action}
              </button>
            </div>
            <div className="meta">
              <div>
                <b>{desktop?.startedAt ? since(desktop.startedAt) : '—'}</b>Last started
              </div>
              <div>
                <b>{desktop?.suspendedAt ? since(desktop.suspendedAt) : '—'}</b>Last suspended
              </div>
              <div>
                <b>{data.connections.filter((c) => c.vmKind === 'personal').length}</b>Open now
              </div>
            </div>
          </div>
          <div className="monitor" aria-hidden>
            {state === 'running' || state === 'paused' ? (
              <>
                <div
                  className="win"
                  style={{ left: '10%', top: '12%', width: '52%', height: '46%' }}
                />
                <div
                  className="win"
                  style={{ left: '36%', top: '34%', width: '52%', height: '40%' }}
                />
                <div className="taskbar" />
              </>
            ) : (
              <div className="screen-label">
                <Monitor size={30} />
                <div style={{ marginTop: 8 }}>
                  {state === 'none' ? 'No desktop yet' : STATE_LABEL[state]}
                </div>
              </div>
            )}
          </div>
        </div>
      </section>

      <div className="grid grid-2" style={{ marginTop: 22 }}>
        <section className="card" aria-label="Disposable browser">
          <div className="card-body">
            <div className="tile">
              <div className="tile-icon">
                <Globe />
              </div>
              <div style={{ flex: 1 }}>
                <h2>Disposable browser</h2>
                <p className="muted" style={{ margin: '6px 0 14px' }}>
                  A fresh, isolated web browser for links you do not trust. Its disk is wiped when
                  you close it, its network is filtered, and it is destroyed when you sign out.
                </p>
                <button className="btn btn-primary" onClick={openBrowser}>
                  <Globe /> Open disposable browser
                </button>
              </div>
            </div>
          </div>
          {data.disposables.length > 0 && (
            <ul className="list" style={{ borderTop: '1px solid var(--border)' }}>
              {data.disposables.map((d) => (
                <li key={d.id}>
                  <span className={`badge badge-${d.state}`}>
                    {STATE_LABEL[d.state] ?? d.state}
                  </span>
                  <span style={{ flex: 1 }}>
                    Browser started {since(d.createdAt)}
                    {d.expiresAt && (
                      <span className="muted small"> · ends by {dateTime(d.expiresAt)}</span>
                    )}
                  </span>
                  <a
                    className="btn btn-sm"
                    href={`/browser/${d.id}`}
                    target="_blank"
                    rel="noreferrer"
                  >
                    Open
                  </a>
                  <button
                    className="btn btn-sm btn-danger"
                    onClick={() => void closeDisposable(d.id)}
                    aria-label="Destroy disposable browser"
                  >
                    <Trash size={15} />
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>

        <section className="card" aria-label="Connected now">
          <div className="card-head">
            <h2>Connected now</h2>
            <span className="badge plain">{data.connections.length}</span>
          </div>
          {data.connections.length === 0 ? (
            <div className="empty">
              <strong>No open sessions</strong>
              When you open your desktop, the browsers it is shown in appear here.
            </div>
          ) : (
            <ul className="list">
              {data.connections.map((c) => (
                <li key={c.id}>
                  <span className="tile-icon" style={{ width: 34, height: 34 }}>
                    <Plug size={16} />
                  </span>
                  <span style={{ flex: 1 }}>
                    <div style={{ fontWeight: 600 }}>{c.browser}</div>
                    <div className="muted small">
                      {c.vmKind === 'disposable' ? 'Disposable browser' : 'Desktop'} ·{' '}
                      {c.address || 'unknown address'} · since {dateTime(c.startedAt)}
                    </div>
                  </span>
                  <span className={`badge badge-${c.mode}`}>
                    {c.mode === 'view' ? 'View only' : 'Control'}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <KeyboardLayoutSetting
            value={data.user.keyboardLayout}
            options={data.keyboardLayouts}
            onSaved={() => void reload()}
          />
          <div className="card-foot small muted row">
            <Shield size={15} /> Quota: {data.user.maxVms} VMs, {mib(data.user.maxMemoryMiB)}{' '}
            memory.
          </div>
        </section>
      </div>
    </>
  );
}
