// Appliance images between the hosts of a fleet. A host whose cache lacks the image of its
// recipe fetches a peer's instead of building it (root, mmdebstrap and a kernel compile:
// minutes). It gets the peer's very build, with its buildId, so golden snapshots and running
// VMs can then move between the two; a build of its own could not take either.
//
// With the fleet's HYPERVISOR_SECRET as bearer, a peer answers GET /image/<appliance> (the
// manifest and each file's size and sha256) and GET /image/<appliance>/<file>. The fetching host
// checks the recipe hash, sizes and hashes before the image enters its cache.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pino from 'pino';
import { z } from 'zod';
import { applianceNameSchema, type ApplianceName } from '../api/protocol.ts';
import {
  peerHeaders,
  peerUrl,
  servePeerRoute,
  type PeerHost,
  type PeerHosts,
  type PeerOffer,
} from '../peer-hosts.ts';
import { MANIFEST, type ApplianceManifest } from './build.ts';
import type { ApplianceImage, ImageFetchTarget } from './image.ts';

export const IMAGE_FILES = ['vmlinuz', 'initrd.img', 'rootfs.ext4'] as const;
type ImageFile = (typeof IMAGE_FILES)[number];

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);
const bytesSchema = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 34);

const manifestSchema = z.object({
  name: applianceNameSchema,
  recipeHash: z.string().regex(/^[0-9a-f]{16}$/),
  kernelVersion: z.string().max(100),
  files: z.object({ vmlinuz: bytesSchema, 'initrd.img': bytesSchema, 'rootfs.ext4': bytesSchema }),
  rootfsContentBytes: bytesSchema,
  buildSeconds: z.number().nonnegative(),
  cmdline: z.string().max(4096),
  memoryMiB: z.number().int().min(16).max(2048),
  vgaMemoryMiB: z.number().int().min(1).max(64),
  packages: z.array(z.string().max(200)).max(2000),
  builtAt: z.string().max(40),
  buildId: z.string().min(1).max(100).optional(),
}) satisfies z.ZodType<ApplianceManifest>;

const imageOfferSchema = z.object({
  manifest: manifestSchema,
  sha256: z.object({
    vmlinuz: sha256Schema,
    'initrd.img': sha256Schema,
    'rootfs.ext4': sha256Schema,
  }),
});
export interface ImageOffer {
  manifest: ApplianceManifest;
  sha256: Record<ImageFile, string>;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const IMAGE_PATH = /^\/image\/([a-z][a-z0-9-]{0,31})(?:\/(vmlinuz|initrd\.img|rootfs\.ext4))?$/;
/** A rootfs is up to a few hundred MiB; on loopback or a LAN this is ample. */
const FILE_TIMEOUT_MS = 600_000;

/** The offers of a host's images, their files hashed once per build. */
export class ImageOffers {
  private readonly offers = new Map<string, Promise<ImageOffer>>();

  constructor(
    /** The image this host has cached for the appliance's current recipe, or null. */
    private readonly cached: (appliance: ApplianceName) => ApplianceImage | null,
  ) {}

  async offer(
    appliance: ApplianceName,
  ): Promise<{ offer: ImageOffer; image: ApplianceImage } | null> {
    const image = this.cached(appliance);
    if (!image) return null;
    const key = `${image.dir}:${image.buildId}`;
    let offer = this.offers.get(key);
    if (!offer) {
      offer = (async (): Promise<ImageOffer> => {
        const sha256 = {} as Record<ImageFile, string>;
        for (const file of IMAGE_FILES) sha256[file] = await sha256File(pathOf(image, file));
        return { manifest: image.manifest, sha256 };
      })();
      offer.catch(() => this.offers.delete(key));
      this.offers.set(key, offer);
    }
    return { offer: await offer, image };
  }
}

function pathOf(image: ApplianceImage, file: ImageFile): string {
  return { vmlinuz: image.kernel, 'initrd.img': image.initrd, 'rootfs.ext4': image.rootfs }[file];
}

/** Answers the image routes on the host's HTTP server (servePeerRoute); false for other paths. */
export function serveImage(
  offers: ImageOffers,
  authorized: (req: IncomingMessage) => boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const find = async (appliance: ApplianceName): Promise<PeerOffer | null> => {
    const found = await offers.offer(appliance);
    if (!found) return null;
    const { offer, image } = found;
    return {
      json: offer,
      file: (name) => {
        const file = IMAGE_FILES.find((f) => f === name);
        return file ? { path: pathOf(image, file), bytes: offer.manifest.files[file] } : null;
      },
    };
  };
  return servePeerRoute({ path: IMAGE_PATH, find }, authorized, req, res);
}

/**
 * Fetches the appliance's image of `recipeHash` from the first peer that has it, verified, into
 * `target.dir` (its files and manifest). False when no peer could give it; `dir` may then hold
 * partial files, which the caller removes.
 */
export async function fetchImageFromPeers(
  target: ImageFetchTarget,
  source: PeerHosts,
  log: pino.Logger,
): Promise<boolean> {
  const { appliance, recipeHash } = target;
  let peers: PeerHost[];
  try {
    peers = await source.peers();
  } catch (error) {
    log.warn({ err: String(error) }, 'cannot list peer hosts for an appliance image');
    return false;
  }
  for (const peer of peers) {
    const started = Date.now();
    try {
      const answer = await fetch(peerUrl(peer, `image/${appliance}`), {
        headers: peerHeaders(source),
        signal: AbortSignal.timeout(60_000),
      });
      if (!answer.ok) {
        await answer.body?.cancel();
        continue;
      }
      const offer = imageOfferSchema.safeParse(await answer.json());
      // Another recipe (the peer runs other code): not this host's image.
      if (
        !offer.success ||
        offer.data.manifest.name !== appliance ||
        offer.data.manifest.recipeHash !== recipeHash
      )
        continue;
      const { manifest, sha256 } = offer.data;
      for (const file of IMAGE_FILES) {
        await download(peer, source, appliance, file, `${target.dir}/${file}`, {
          bytes: manifest.files[file],
          sha256: sha256[file],
        });
      }
      await writeFile(`${target.dir}/${MANIFEST}`, JSON.stringify(manifest, null, 2) + '\n');
      log.info(
        {
          appliance,
          peer: peer.id,
          buildId: manifest.buildId,
          bytes: Object.values(manifest.files).reduce((a, b) => a + b, 0),
          ms: Date.now() - started,
        },
        'appliance image fetched from a peer',
      );
      return true;
    } catch (error) {
      log.warn({ appliance, peer: peer.id, err: String(error) }, 'image fetch failed');
    }
  }
  return false;
}

async function download(
  peer: PeerHost,
  source: PeerHosts,
  appliance: ApplianceName,
  file: ImageFile,
  path: string,
  expected: { bytes: number; sha256: string },
): Promise<void> {
  const res = await fetch(peerUrl(peer, `image/${appliance}/${file}`), {
    headers: peerHeaders(source),
    signal: AbortSignal.timeout(FILE_TIMEOUT_MS),
  });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new Error(`${file}: HTTP ${res.status}`);
  }
  const hash = createHash('sha256');
  const out = new SparseFile(await open(path, 'w'));
  try {
    // A reader, not `for await`: the portal type-checks this file with the DOM's stream types.
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      await out.write(value);
    }
    await out.end();
  } finally {
    await out.close();
  }
  if (out.bytes !== expected.bytes)
    throw new Error(`${file}: ${out.bytes} bytes, not ${expected.bytes}`);
  if (hash.digest('hex') !== expected.sha256) throw new Error(`${file}: sha256 does not match`);
}

const BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/**
 * Writes a stream to a file, leaving all-zero 4 KiB blocks as holes: a rootfs is mostly empty
 * (the console's: 76 MiB of which 17 MiB used), as the peer's own copy is.
 */
class SparseFile {
  private readonly pending = Buffer.alloc(1 << 20);
  private fill = 0;
  bytes = 0;

  constructor(private readonly file: FileHandle) {}

  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.pending.length - this.fill);
      this.pending.set(chunk.subarray(offset, offset + n), this.fill);
      this.fill += n;
      offset += n;
      if (this.fill === this.pending.length) await this.flush();
    }
  }

  async end(): Promise<void> {
    await this.flush();
    await this.file.truncate(this.bytes);
    await this.file.sync();
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /** Writes the pending data's runs of non-zero blocks at their places. */
  private async flush(): Promise<void> {
    const writeRun = (from: number, to: number) =>
      this.file.write(this.pending, from, to - from, this.bytes + from);
    let runStart = -1;
    for (let at = 0; at < this.fill; at += BLOCK) {
      const end = Math.min(at + BLOCK, this.fill);
      const zero = this.pending.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
      if (!zero && runStart < 0) runStart = at;
      if (zero && runStart >= 0) {
        await writeRun(runStart, at);
        runStart = -1;
      }
    }
    if (runStart >= 0) await writeRun(runStart, this.fill);
    this.bytes += this.fill;
    this.fill = 0;
  }
}
