// Domains for building golden snapshots without a running host (`npm start`'s setup): cold-booted
// system domains on their own network switch, with no domain table, scheduler or data directory.
import { randomBytes } from 'node:crypto';
import type pino from 'pino';
import type { ApplianceImage } from '../appliances/index.ts';
import type { ApplianceName } from '../api/protocol.ts';
import type { HypervisorConfig } from '../config.ts';
import { NetworkSwitch } from '../network/switch.ts';
import type { GoldenDomainFactory } from '../snapshots/golden.ts';
import { ApplianceImages } from './appliance-images.ts';
import { SerialLog } from './devices/serial-log.ts';
import { Domain } from './domain.ts';
import { DomainLauncher } from './domain-launcher.ts';
import { HostFiles } from './host-files.ts';

export class GoldenBuildDomains implements GoldenDomainFactory {
  private readonly images = new ApplianceImages();
  private readonly network: NetworkSwitch;
  private readonly launcher: DomainLauncher;

  constructor(config: HypervisorConfig, log: pino.Logger) {
    this.network = new NetworkSwitch(
      { policy: config.network },
      log.child({ component: 'network' }),
    );
    this.launcher = new DomainLauncher({
      seabiosDir: config.seabiosDir,
      displayFps: config.displayFps,
      displayMaxFps: config.displayMaxFps,
      jitMaxPages: config.jitMaxPages,
      // System domains keep their disk writes in RAM: nothing is written under data/.
      files: new HostFiles(config.dataDir),
      network: this.network,
      log,
    });
  }

  /** The image its golden snapshots are made on: recipe hash and build. */
  image(appliance: ApplianceName): Promise<ApplianceImage> {
    return this.images.get(appliance);
  }

  async coldBoot(appliance: ApplianceName): Promise<Domain> {
    const image = await this.images.get(appliance);
    const id = `vm-${randomBytes(4).toString('hex')}`;
    const domain = new Domain(
      {
        id,
        name: `golden-${appliance}`,
        appliance,
        kind: 'system',
        owner: null,
        memoryMiB: image.memoryMiB,
        vgaMemoryMiB: image.vgaMemoryMiB,
      },
      new SerialLog(),
    );
    await this.launcher.boot(domain, image, undefined, 'clone');
    return domain;
  }

  async destroy(domain: Domain): Promise<void> {
    await domain.destroy();
  }

  /** Stops the network switch; destroy the domains first. */
  async close(): Promise<void> {
    await this.network.close();
  }
}
