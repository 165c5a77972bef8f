import '@fontsource-variable/inter';
import './globals.css';
import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';

export const metadata: Metadata = {
  title: { default: 'Raydesk', template: '%s · Raydesk' },
  description: 'Your desktop, in any browser.',
};

export const viewport: Viewport = { themeColor: '#0f1629' };

// Every page is rendered per request: its scripts carry that request's CSP nonce (proxy.ts),
// which a page prerendered at build time could not.
export const dynamic = 'force-dynamic';

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
