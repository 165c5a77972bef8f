'use client';
export function Toast({ toast }: { toast: { text: string; error: boolean } | null }) {
  if (!toast) return null;
  return (
    <div className={`toast${toast.error ? ' error' : ''}`} role="status">
      {toast.text}
    </div>
  );
}
