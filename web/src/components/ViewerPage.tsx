// A viewer page's body, rendered by the server: the early-attach script, then the viewer.
//
// The script joins the gateway with the page's attach ticket while Next loads and hydrates, and
// the viewer adopts that connection when it mounts (@raydesk/viewer's early-attach.ts). React
// does not run scripts it inserts on a client-side navigation, where the home page has joined
// already (HomeClient).
import { headers } from 'next/headers';
import type { PageTicket } from '@/server/attach-ticket';
import { nonceOf } from '@/server/csp';
import { ViewerHost, type ViewerHostProps } from './ViewerHost';

export async function ViewerPage(props: ViewerHostProps & { ticket?: PageTicket | null }) {
  const { ticket } = props;
  const nonce = ticket ? nonceOf((await headers()).get('content-security-policy')) : undefined;
  return (
    <>
      {ticket && (
        <script
          src="/early-attach.js"
          nonce={nonce}
          data-vm={props.domainId}
          data-gateway-url={ticket.gatewayUrl}
          data-path={ticket.path}
          data-token={ticket.token}
        />
      )}
      <ViewerHost {...props} />
    </>
  );
}
