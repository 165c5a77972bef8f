// The appliance images a host boots, looked up once each in its image cache. In a fleet, an
// image missing from the cache is fetched from a peer before it is built here.
import type pino from 'pino';
import type { ApplianceName } from '../api/protocol.ts';
import {
  ImageOffers,
  applianceCacheDir,
  ensureAppliance,
  fetchImageFromPeers,
  findAppliance,
  type ApplianceImage,
  type ImageFetch,
} from '../appliances/index.ts';
import type { PeerHosts } from '../peer-hosts.ts';
import { HostError } from './errors.ts';

export interface ApplianceImagesOptions {
  /** The cache's `appliances` folder (default: RAYDESK_CACHE_DIR's). */
  cacheDir?: string;
  /** A fleet's other hosts, asked for an image this cache lacks. */
  peers?: PeerHosts | null;
  log?: pino.Logger;
}

export class ApplianceImages {
  private readonly images = new Map<ApplianceName, Promise<ApplianceImage>>();
  private readonly cacheDir: string;
  private readonly fetchImage: ImageFetch | undefined;
  /** What peers of a fleet may fetch from this host: the images its cache holds. */
  readonly offers: ImageOffers;

  constructor(options: ApplianceImagesOptions = {}) {
    this.cacheDir = options.cacheDir ?? applianceCacheDir();
    const { peers, log } = options;
    this.fetchImage =
      peers && log ? (target) => fetchImageFromPeers(target, peers, log) : undefined;
    this.offers = new ImageOffers((name) => findAppliance(name, this.cacheDir));
  }

  /** The appliance's image; `appliance_unavailable` when it is not built and cannot be. */
  get(name: ApplianceName): Promise<ApplianceImage> {
    const cached = this.images.get(name);
    if (cached) return cached;
    const image = ensureAppliance(name, {
      cacheDir: this.cacheDir,
      fetchImage: this.fetchImage,
    }).catch((error: unknown) => {
      this.images.delete(name);
      throw new HostError(
        'appliance_unavailable',
        `appliance ${name} is not available: ${error instanceof Error ? error.message : error}`,
      );
    });
    this.images.set(name, image);
    return image;
  }
}
