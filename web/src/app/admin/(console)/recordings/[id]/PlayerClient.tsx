'use client';
// The admin player: the viewer's painter and decoders replay a recording on a canvas, with
// play/pause, a timeline to seek on and 1x/2x/4x.
import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import { recordingIndexSchema, type RecordingIndex } from '@raydesk/gateway/recording';
import { RecordingPlayer, type PlayerState } from '@raydesk/viewer';
import { api, errorText } from '@/lib/api';
import { dateTime } from '@/lib/format';
import { clock, size } from '../format';
import type { RecordingRow } from '../RecordingsClient';

const SPEEDS = [1, 2, 4] as const;

async function readBytes(id: string, from: number, to: number): Promise<Uint8Array> {
  const res = await fetch(`/api/admin/recordings/${id}/bytes?from=${from}&to=${to}`, {
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) throw new Error(`The recording could not be read (${res.status}).`);
  return new Uint8Array(await res.arrayBuffer());
}

declare global {
  interface Window {
    /** For the end-to-end test: the player on this page. */
    raydeskPlayer?: RecordingPlayer;
  }
}

export function PlayerClient({ id }: { id: string }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const playerRef = useRef<RecordingPlayer | null>(null);
  const [info, setInfo] = useState<{ recording: RecordingRow; index: RecordingIndex } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [view, setView] = useState<{ state: PlayerState; position: number; speed: number }>({
    state: 'paused',
    position: 0,
    speed: 1,
  });
  const [seeking, setSeeking] = useState<number | null>(null);

  useEffect(() => {
    let player: RecordingPlayer | null = null;
    let cancelled = false;
    void (async () => {
      try {
        const body = await api<{ recording: RecordingRow; index: unknown }>(
          `/api/admin/recordings/${encodeURIComponent(id)}/index`,
        );
        const index = recordingIndexSchema.parse(body.index);
        if (cancelled || !canvasRef.current) return;
        setInfo({ recording: body.recording, index });
        player = new RecordingPlayer(canvasRef.current, {
          index,
          read: (from, to) => readBytes(id, from, to),
        });
        playerRef.current = player;
        window.raydeskPlayer = player;
        const p = player;
        p.onChange = () => setView({ state: p.state, position: p.position, speed: p.speed });
        await p.seek(0);
      } catch (e) {
        setError(errorText(e));
      }
    })();
    return () => {
      cancelled = true;
      player?.close();
      if (window.raydeskPlayer === player) delete window.raydeskPlayer;
    };
  }, [id]);

  const player = playerRef.current;
  const duration = info?.index.durationMs ?? 0;
  const shown = seeking ?? view.position;
  return (
    <section className="card">
      <div className="card-head">
        <div>
          <strong>{info ? info.recording.userName : 'Recording'}</strong>{' '}
          {info && (
            <span className="muted small">
              {info.recording.userEmail} · VM{' '}
              <span className="mono">{info.recording.domainId}</span> ·{' '}
              {dateTime(info.recording.startedAt)} · {clock(duration)} · {size(info.index.size)}
              {!info.index.complete && ' · still recording or cut short'}
            </span>
          )}
        </div>
        <span className="spacer" />
        <Link className="btn btn-sm" href="/admin/recordings">
          All recordings
        </Link>
      </div>
      {error && <div className="alert alert-error">{error}</div>}
      <div className="card-body stack">
        <div className="recording-screen">
          <canvas ref={canvasRef} className="recording-canvas" aria-label="Recorded screen" />
        </div>
        <div className="row recording-controls">
          <button
            className="btn btn-primary btn-sm"
            type="button"
            disabled={!player}
            aria-label={view.state === 'playing' ? 'Pause' : 'Play'}
            onClick={() => (view.state === 'playing' ? player?.pause() : player?.play())}
          >
            {view.state === 'playing' ? 'Pause' : 'Play'}
          </button>
          <span className="mono small" aria-label="Position">
            {clock(shown)} / {clock(duration)}
          </span>
          <input
            className="recording-timeline"
            type="range"
            aria-label="Timeline"
            min={0}
            max={Math.max(1, duration)}
            step={100}
            value={shown}
            disabled={!player}
            onChange={(e) => setSeeking(Number(e.target.value))}
            onPointerUp={() => {
              if (seeking !== null) void player?.seek(seeking).then(() => setSeeking(null));
            }}
            onKeyUp={() => {
              if (seeking !== null) void player?.seek(seeking).then(() => setSeeking(null));
            }}
          />
          <div className="row" role="group" aria-label="Speed">
            {SPEEDS.map((s) => (
              <button
                key={s}
                type="button"
                className={`btn btn-sm${view.speed === s ? ' btn-primary' : ''}`}
                aria-pressed={view.speed === s}
                disabled={!player}
                onClick={() => player?.setSpeed(s)}
              >
                {s}x
              </button>
            ))}
          </div>
          <a className="btn btn-sm" href={`/api/admin/recordings/${id}/download`} download>
            Download
          </a>
        </div>
      </div>
    </section>
  );
}
