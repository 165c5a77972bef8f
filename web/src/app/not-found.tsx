import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="center-page">
      <div className="card card-body">
        <div className="code-big">404</div>
        <h2 style={{ marginTop: 6 }}>Nothing here</h2>
        <p className="muted">This page or virtual machine does not exist, or it is not yours.</p>
        <Link className="btn btn-primary" href="/">
          Back to my desktop
        </Link>
      </div>
    </div>
  );
}
