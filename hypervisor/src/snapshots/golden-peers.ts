// Golden snapshots between the hosts of a fleet: a host lacking the snapshot of an appliance
// fetches it from a peer instead of cold-booting it for minutes. The peer answers, with the
// fleet's HYPERVISOR_SECRET as bearer, GET /golden/<appliance> (the manifest and the state
// file's sha256) and GET /golden/<appliance>/state (the file); the fetching host checks the
// recipe hash, the emulator version and the sha256 before the store keeps it (golden-store.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pino from 'pino';
import type { ApplianceName } from '../api/protocol.ts';
import {
  peerHeaders,
  peerUrl,
  servePeerRoute,
  type PeerHost,
  type PeerHosts,
  type PeerOffer,
} from '../peer-hosts.ts';
import { goldenOfferSchema, type GoldenManifest, type GoldenStore } from './golden-store.ts';

const GOLDEN_PATH = /^\/golden\/([a-z][a-z0-9-]{0,31})(?:\/(state))?$/;
/** A state file is tens of MiB; on loopback or a LAN this is ample. */
const FETCH_TIMEOUT_MS = 120_000;

/** Answers the golden routes on the host's HTTP server (servePeerRoute); false for other paths. */
export function serveGolden(
  store: GoldenStore,
  authorized: (req: IncomingMessage) => boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const find = async (appliance: ApplianceName): Promise<PeerOffer | null> => {
    const offer = await store.offer(appliance);
    if (!offer) return null;
    return {
      json: { manifest: offer.manifest, sha256: offer.sha256 },
      file: () => ({ path: offer.statePath, bytes: offer.manifest.fileBytes }),
    };
  };
  return servePeerRoute({ path: GOLDEN_PATH, find }, authorized, req, res);
}

/**
 * Fetches the appliance's golden snapshot from the first peer that has one matching this host's
 * image and emulator, verified, into `store`. Null when no peer could give one.
 */
export async function fetchGoldenFromPeers(options: {
  store: GoldenStore;
  appliance: ApplianceName;
  source: PeerHosts;
  log: pino.Logger;
}): Promise<GoldenManifest | null> {
  const { store, appliance, source, log } = options;
  let peers: PeerHost[];
  try {
    peers = await source.peers();
  } catch (error) {
    log.warn({ err: String(error) }, 'cannot list peer hosts for a golden snapshot');
    return null;
  }
  const headers = peerHeaders(source);
  for (const peer of peers) {
    const started = Date.now();
    try {
      const answer = await fetch(peerUrl(peer, `golden/${appliance}`), {
        headers,
        signal: AbortSignal.timeout(10_000),
      });
      if (!answer.ok) {
        await answer.body?.cancel();
        continue;
      }
      const offer = goldenOfferSchema.safeParse(await answer.json());
      if (!offer.success) continue;
      // Another image or emulator: not worth the download.
      const { manifest: offered } = offer.data;
      if (!(await store.matches(appliance, offered))) continue;
      const file = await fetch(peerUrl(peer, `golden/${appliance}/state`), {
        headers,
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!file.ok) {
        await file.body?.cancel();
        continue;
      }
      const bytes = Buffer.from(await file.arrayBuffer());
      const manifest = await store.install(appliance, offer.data, bytes);
      log.info(
        { golden: appliance, peer: peer.id, bytes: bytes.byteLength, ms: Date.now() - started },
        'golden snapshot fetched from a peer',
      );
      return manifest;
    } catch (error) {
      log.warn({ golden: appliance, peer: peer.id, err: String(error) }, 'golden fetch failed');
    }
  }
  return null;
}
