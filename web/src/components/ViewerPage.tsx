// A viewer page's body, rendered by the server: the early-attach script, then the viewer.
//
// The script joins the gateway with the page's attach ticket while Next loads and hydrates, and
// the viewer adopts that connection when it mounts (@raydesk/viewer's early-attach.ts). It is
// inlined as an async module: that runs as soon as the parser reaches it, where a classic
// script, inline or not, waits for the page's stylesheet first. React does not run scripts it
// inserts on a client-side navigation, where the home page has joined already (HomeClient).
import { headers } from 'next/headers';
import type { PageTicket } from '@/server/attach-ticket';
import { nonceOf } from '@/server/csp';
import { ViewerHost, type ViewerHostProps } from './ViewerHost';

/** The built script (next.config.ts); text that would end its element is never inlined. */
const EARLY_ATTACH_SOURCE = process.env.RAYDESK_EARLY_ATTACH_SOURCE ?? '';
const INLINE_EARLY_ATTACH =
  EARLY_ATTACH_SOURCE !== '' && !/<\/script|<!--/i.test(EARLY_ATTACH_SOURCE);

export async function ViewerPage(props: ViewerHostProps & { ticket?: PageTicket | null }) {
  const { ticket } = props;
  const nonce = ticket ? nonceOf((await headers()).get('content-security-policy')) : undefined;
  const data = ticket && {
    nonce,
    'data-early-attach': '',
    'data-vm': props.domainId,
    'data-gateway-url': ticket.gatewayUrl,
    'data-path': ticket.path,
    'data-token': ticket.token,
  };
  return (
    <>
      {data &&
        (INLINE_EARLY_ATTACH ? (
          <script
            type="module"
            async
            {...data}
            dangerouslySetInnerHTML={{ __html: EARLY_ATTACH_SOURCE }}
          />
        ) : (
          <script src="/early-attach.js" {...data} />
        ))}
      <ViewerHost {...props} />
    </>
  );
}
