import '@fontsource-variable/inter';
import './globals.css';
import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';

export const metadata: Metadata = {
  title: { default: 'Raydesk', template: '%s · Raydesk' },
  description: 'Your desktop, in any browser.',
};

export const viewport: Viewport = { themeColor: '#0f1629' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
