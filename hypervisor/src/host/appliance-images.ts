// The appliance images a host boots, looked up once each in the shared image cache.
import type { ApplianceName } from '../api/protocol.ts';
import { ensureAppliance, type ApplianceImage } from '../appliances/index.ts';
import { HostError } from './errors.ts';

export class ApplianceImages {
  private readonly images = new Map<ApplianceName, Promise<ApplianceImage>>();

  /** The appliance's image; `appliance_unavailable` when it is not built and cannot be. */
  get(name: ApplianceName): Promise<ApplianceImage> {
    const cached = this.images.get(name);
    if (cached) return cached;
    const image = ensureAppliance(name).catch((error: unknown) => {
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
