// Whether the host has room for a domain: guest memory within the host's budget for one that
// runs, disk space for the state file of one being suspended.
import { statfs } from 'node:fs/promises';
import { HostError } from './errors.ts';

/** What admission needs to know about a domain. */
export interface AdmittedDomain {
  readonly id: string;
  readonly name: string;
  readonly memoryMiB: number;
  readonly vgaMemoryMiB: number;
}

export interface AdmissionOptions {
  budgetMiB: number;
  /** Guest memory held now, in MiB, leaving out the domain with `exceptId`. */
  memoryInUse(exceptId?: string): number;
  /** Frees memory held in reserve (standby domains) for a domain that would not fit otherwise. */
  releaseReserve(): Promise<void>;
}

const MIB = 2 ** 20;

export class Admission {
  constructor(private readonly options: AdmissionOptions) {}

  /**
   * Throws `insufficient_memory` unless `domain` fits in the budget. `exceptId` (default: the
   * domain itself) is left out of what is in use, for a domain that already counts there.
   * With `mayReleaseReserve`, standby domains are let go first when it would not fit.
   */
  async admitMemory(
    domain: AdmittedDomain,
    {
      exceptId = domain.id,
      mayReleaseReserve = true,
    }: { exceptId?: string; mayReleaseReserve?: boolean } = {},
  ): Promise<void> {
    const { budgetMiB, memoryInUse } = this.options;
    const needed = domain.memoryMiB + domain.vgaMemoryMiB;
    const fits = () => memoryInUse(exceptId) + needed <= budgetMiB;
    if (!fits() && mayReleaseReserve) await this.options.releaseReserve();
    if (!fits()) {
      throw new HostError(
        'insufficient_memory',
        `not enough host memory for ${domain.name}: it needs ${needed} MiB, ` +
          `${budgetMiB - memoryInUse(exceptId)} MiB of the ${budgetMiB} MiB budget is free`,
      );
    }
  }

  /**
   * Suspended domains are limited by disk, not RAM: a save needs room for the state file in
   * `dir`. Its size is at most the guest's RAM and VGA memory (zstd only makes it smaller).
   */
  async admitToDisk(domain: AdmittedDomain, dir: string): Promise<void> {
    const needed = (domain.memoryMiB + domain.vgaMemoryMiB) * MIB;
    const stats = await statfs(dir);
    const free = stats.bavail * stats.bsize;
    if (free < needed) {
      throw new HostError(
        'insufficient_disk',
        `not enough disk space in ${dir} to save ${domain.name}: it may need ` +
          `${Math.ceil(needed / MIB)} MiB, ${Math.floor(free / MIB)} MiB is free`,
      );
    }
  }
}
