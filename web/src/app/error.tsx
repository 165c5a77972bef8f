'use client';
import Link from 'next/link';

export default function ErrorPage({ reset }: { error: Error; reset: () => void }) {
  return (
    <div className="center-page">
      <div className="card card-body">
        <div className="code-big">Oops</div>
        <h2 style={{ marginTop: 6 }}>Something went wrong</h2>
        <p className="muted">The portal hit an unexpected problem. Nothing was lost; try again.</p>
        <div className="row" style={{ justifyContent: 'center' }}>
          <button className="btn btn-primary" onClick={reset}>
            Try again
          </button>
          <Link className="btn" href="/">
            Home
          </Link>
        </div>
      </div>
    </div>
  );
}
