'use client';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorText } from '@/lib/api';

/** Fetches `url` now and every `everyMs`; pauses while the tab is hidden. */
export function usePoll<T>(url: string, everyMs = 3000) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const urlRef = useRef(url);
  urlRef.current = url;
  const load = useCallback(async () => {
    try {
      const d = await api<T>(urlRef.current);
      setData(d);
      setError(null);
      setUpdatedAt(Date.now());
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => {
    void load();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, everyMs);
    return () => clearInterval(timer);
  }, [load, everyMs, url]);
  return { data, error, reload: load, updatedAt };
}

export function useToast() {
  const [toast, setToast] = useState<{ text: string; error: boolean } | null>(null);
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 4000);
    return () => clearTimeout(t);
  }, [toast]);
  return {
    toast,
    show: (text: string, error = false) => setToast({ text, error }),
  };
}
