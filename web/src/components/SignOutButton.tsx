'use client';
import { useState } from 'react';

export function SignOutButton() {
  const [busy, setBusy] = useState(false);
  return (
    <button
      className="btn btn-sm"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        void fetch('/api/auth/logout', { method: 'POST', credentials: 'same-origin' }).finally(
          () => (window.location.href = '/login'),
        );
      }}
    >
      {busy ? 'Signing out…' : 'Sign out'}
    </button>
  );
}
