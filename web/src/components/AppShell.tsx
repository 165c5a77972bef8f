import Link from 'next/link';
import type { ReactNode } from 'react';
import { initials } from '@/lib/format';
import { Logo } from './icons';
import { SignOutButton } from './SignOutButton';

export function AppShell({
  user,
  active,
  children,
}: {
  user: { name: string; email: string; role: string };
  active: 'home' | 'admin' | 'account';
  children: ReactNode;
}) {
  return (
    <>
      <header className="topbar">
        <Link href="/" className="brand">
          <span className="brand-mark">
            <Logo />
          </span>
          Raydesk
        </Link>
        <nav className="topnav" aria-label="Main">
          <Link href="/" className={active === 'home' ? 'active' : ''}>
            My desktop
          </Link>
          <Link href="/account" className={active === 'account' ? 'active' : ''}>
            Account
          </Link>
          {user.role === 'admin' && (
            <Link href="/admin" className={active === 'admin' ? 'active' : ''}>
              Admin console
            </Link>
          )}
        </nav>
        <div className="usermenu">
          <span className="avatar" aria-hidden>
            {initials(user.name, user.email)}
          </span>
          <span className="who">
            <span>{user.name || user.email}</span>
            <span>{user.email}</span>
          </span>
          <SignOutButton />
        </div>
      </header>
      <main className="page">{children}</main>
    </>
  );
}
