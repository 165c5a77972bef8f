// The viewer pages' first script: it joins the gateway with the page's attach ticket while Next
// loads and hydrates, and the viewer adopts that connection when it mounts (early attach,
// @raydesk/viewer's early-attach.ts). Rendered by the server only: React does not run scripts it
// inserts on a client-side navigation, where the home page has joined already (HomeClient).
import { headers } from 'next/headers';
import { nonceOf } from '@/server/csp';
import type { PageTicket } from '@/server/attach-ticket';

export async function EarlyAttachScript({
  domainId,
  ticket,
}: {
  domainId: string;
  ticket: PageTicket | null;
}) {
  if (!ticket) return null;
  const nonce = nonceOf((await headers()).get('content-security-policy'));
  return (
    <script
      src="/early-attach.js"
      nonce={nonce}
      data-vm={domainId}
      data-gateway-url={ticket.gatewayUrl}
      data-path={ticket.path}
      data-token={ticket.token}
    />
  );
}
