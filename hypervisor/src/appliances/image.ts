// What an appliance image is to those who boot, fetch or serve it, apart from how it is built.
import type { ApplianceName } from '../api/protocol.ts';
import type { ApplianceManifest } from './build.ts';

/** Which image a host boots for an appliance: its recipe, and which build of that recipe. */
export interface ImageIdentity {
  recipeHash: string;
  /** See ApplianceManifest.buildId. */
  buildId: string;
}

export interface ApplianceImage extends ImageIdentity {
  name: ApplianceName;
  /** The cache entry holding the files below. */
  dir: string;
  /** bzImage, for the v86 `bzimage` option. */
  kernel: string;
  /** gzip'd cpio initramfs, for the v86 `initrd` option. */
  initrd: string;
  /** ext4 root file system image (the guest's /dev/sda), for `hda`. */
  rootfs: string;
  cmdline: string;
  memoryMiB: number;
  vgaMemoryMiB: number;
  manifest: ApplianceManifest;
}

/** Where a fetched image goes: an empty folder the caller renames into the cache. */
export interface ImageFetchTarget {
  appliance: ApplianceName;
  recipeHash: string;
  dir: string;
}

/** Fetches an image from elsewhere (a fleet's peers: image-peers.ts); false if it could not. */
export type ImageFetch = (target: ImageFetchTarget) => Promise<boolean>;
