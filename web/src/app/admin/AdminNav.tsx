'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';

const TABS = [
  ['/admin', 'Live sessions'],
  ['/admin/vms', 'VMs'],
  ['/admin/users', 'Users'],
  ['/admin/groups', 'Groups'],
  ['/admin/hosts', 'Hosts'],
  ['/admin/recordings', 'Recordings'],
  ['/admin/audit', 'Audit log'],
] as const;

export function AdminNav() {
  const path = usePathname();
  return (
    <nav className="subnav" aria-label="Admin">
      {TABS.map(([href, label]) => (
        <Link
          key={href}
          href={href}
          className={
            path === href || (href === '/admin/recordings' && path.startsWith(`${href}/`))
              ? 'active'
              : ''
          }
        >
          {label}
        </Link>
      ))}
    </nav>
  );
}
