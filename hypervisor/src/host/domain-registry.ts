// The personal domains the host must remember across its own restarts: one small JSON file per
// domain (where: host-files.ts), written atomically. Disposable and system domains are never
// recorded; they end with the daemon.
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { z } from 'zod';
import { applianceNameSchema, domainIdSchema, domainKindSchema } from '../api/protocol.ts';
import type { DomainSpec } from './domain.ts';
import type { HostFiles } from './host-files.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';

const recordSchema = z.object({
  spec: z.object({
    id: domainIdSchema,
    name: z.string().min(1).max(200),
    appliance: applianceNameSchema,
    kind: domainKindSchema,
    owner: z.string().nullable(),
    memoryMiB: z.number().int().positive(),
    vgaMemoryMiB: z.number().int().positive(),
  }),
  createdAt: z.string().datetime(),
  /** The state file a suspended domain resumes from; null when it has to boot. */
  savedStateFile: z.string().nullable(),
  /** It had viewers when last recorded: after a crash of the host it is started again. */
  inUse: z.boolean().default(false),
});
export type DomainRecord = z.infer<typeof recordSchema>;

export class DomainRegistry {
  constructor(private readonly files: Pick<HostFiles, 'recordFile' | 'recordFiles'>) {}

  save(spec: DomainSpec, createdAt: Date, savedStateFile: string | null, inUse = false): void {
    const record: DomainRecord = {
      spec,
      createdAt: createdAt.toISOString(),
      savedStateFile,
      inUse,
    };
    const path = this.files.recordFile(spec.id);
    const tmp = `${path}.new`;
    const fd = openSync(tmp, 'w', PRIVATE_FILE_MODE);
    try {
      writeSync(fd, JSON.stringify(record, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  remove(id: string): void {
    rmSync(this.files.recordFile(id), { force: true });
  }

  /** Every readable record; unreadable files are reported, not fatal. */
  load(): { records: DomainRecord[]; problems: string[] } {
    const records: DomainRecord[] = [];
    const problems: string[] = [];
    for (const path of this.files.recordFiles()) {
      try {
        const parsed = recordSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
        if (parsed.success) records.push(parsed.data);
        else problems.push(`${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      } catch (error) {
        problems.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { records, problems };
  }
}
