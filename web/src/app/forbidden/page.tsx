import Link from 'next/link';
import type { Metadata } from 'next';

export const metadata: Metadata = { title: 'Not allowed' };

export default function Forbidden() {
  return (
    <div className="center-page">
      <div className="card card-body">
        <div className="code-big">403</div>
        <h2 style={{ marginTop: 6 }}>This area is for administrators</h2>
        <p className="muted">
          Your account does not have access to this page. If you think it should, ask your
          administrator.
        </p>
        <Link className="btn btn-primary" href="/">
          Back to my desktop
        </Link>
      </div>
    </div>
  );
}
