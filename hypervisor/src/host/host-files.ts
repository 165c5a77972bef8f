// The host's files under the data directory (RAYDESK_DATA_DIR): the only code that knows their
// paths. Each domain may have a record (personal domains, so a restarted host knows them), a
// saved state, a disk overlay and a console log:
//
//   domains/<id>.json       record (domain-registry.ts)
//   states/<id>.state       saved memory of a suspended domain (snapshots/codec.ts)
//   disks/<id>.overlay      durable disk overlay of a personal domain
//   logs/<id>.console.log   serial console
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { domainIdSchema } from '../api/protocol.ts';
import { ensurePrivateDir, restrictTree } from '../private-files.ts';

const RECORDS = 'domains';
const STATES = 'states';
const DISKS = 'disks';
const LOGS = 'logs';

export class HostFiles {
  /** Creates nothing: `prepare()` makes the folders. */
  constructor(readonly dataDir: string) {}

  /** Creates the folders owner-only (0700) and fixes the modes of anything older (0600 files). */
  prepare(): void {
    for (const dir of [RECORDS, STATES, DISKS, LOGS]) ensurePrivateDir(join(this.dataDir, dir));
    restrictTree(this.dataDir);
  }

  recordFile(id: string): string {
    return this.pathOf(RECORDS, id, '.json');
  }

  /** Every record file there is, readable or not. */
  recordFiles(): string[] {
    const dir = join(this.dataDir, RECORDS);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => join(dir, name));
  }

  /** Where `save` puts a domain's state unless told otherwise. */
  stateFile(id: string): string {
    return this.pathOf(STATES, id, '.state');
  }

  /** The domain's saved state in its usual place, if there is one. */
  savedState(id: string): string | null {
    const file = this.stateFile(id);
    return existsSync(file) ? file : null;
  }

  get statesDir(): string {
    return join(this.dataDir, STATES);
  }

  overlayFile(id: string): string {
    return this.pathOf(DISKS, id, '.overlay');
  }

  consoleLog(id: string): string {
    return this.pathOf(LOGS, id, '.console.log');
  }

  /**
   * Removes what an ended domain left: its record, state and overlay, and its console log
   * unless `keepConsoleLog` (system domains keep theirs for the operator).
   */
  removeDomain(id: string, { keepConsoleLog }: { keepConsoleLog: boolean }): void {
    rmSync(this.recordFile(id), { force: true });
    rmSync(this.stateFile(id), { force: true });
    rmSync(this.overlayFile(id), { force: true });
    if (!keepConsoleLog) rmSync(this.consoleLog(id), { force: true });
  }

  /** A checked id never leaves its folder (no `..`, no `/`). */
  private pathOf(dir: string, id: string, suffix: string): string {
    return join(this.dataDir, dir, `${domainIdSchema.parse(id)}${suffix}`);
  }
}
