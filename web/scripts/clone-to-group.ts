// `npm run vm -- clone <id> --group <name> [--replace] [--to <host>]`: one copy of a running VM for
// each member of a portal group, each becoming that member's personal desktop. Users, groups and
// their desktops belong to the portal, so this runs the portal's own "Clone…" (cloneVm) against
// its database; scripts/vm.ts routes here. <id> is the VM's domain id (as `npm run vm -- list`
// shows it) or its portal id. Audited as the first administrator (the one the portal seeded).
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { db } from '../src/server/db.ts';
import { cloneVm } from '../src/server/fleet-actions.ts';
import { closeHostClients } from '../src/server/fleet.ts';
import { HttpError } from '../src/server/http.ts';
import { vmCloneSchema } from '../src/lib/validation.ts';

const vmRefSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a VM id: letters, digits, - and _');

/** Set once the database is opened (a usage error never opens it). */
let usedDb = false;

const program = new Command('vm')
  .exitOverride()
  .command('clone <id>')
  .description("one copy of a running VM for each member of a group, as that member's desktop")
  .requiredOption('--group <name>', 'the portal group whose members each get a copy')
  .option('--replace', 'a member who has a desktop gets the copy in its place (it is destroyed)')
  .option('--to <host>', 'the fleet host id for every copy (default: placement)')
  .action(async (ref: string, opts: { group: string; replace?: boolean; to?: string }) => {
    const id = vmRefSchema.safeParse(ref);
    if (!id.success) throw new UsageError(`bad VM id: ${id.error.issues[0]!.message}`);
    const request = vmCloneSchema.safeParse({
      group: opts.group,
      replace: opts.replace === true,
      hostId: opts.to,
    });
    if (!request.success) throw new UsageError(request.error.issues[0]!.message);
    usedDb = true;
    const vm = await db().vm.findFirst({
      where: { OR: [{ domainId: id.data }, { id: id.data }], state: { not: 'destroyed' } },
    });
    if (!vm) throw new HttpError(404, 'not_found', `There is no VM ${id.data} in the portal.`);
    const admin = await db().user.findFirst({
      where: { role: 'admin' },
      orderBy: { createdAt: 'asc' },
    });
    if (!admin) throw new HttpError(409, 'no_admin', 'The portal has no administrator yet.');
    const results = await cloneVm(db(), vm, request.data, {
      id: admin.id,
      email: admin.email,
      address: 'cli',
    });
    for (const r of results) {
      if (r.error) console.log(`${r.email}: not copied: ${r.error}`);
      else
        console.log(
          `${r.email}: ${r.domainId} on ${r.hostId}` +
            (r.replacedVmId ? ` (replaced VM ${r.replacedVmId})` : ''),
        );
    }
    if (results.some((r) => r.error)) process.exitCode = 1;
  });

class UsageError extends Error {}

try {
  await program.parent!.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 2;
  else if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
} finally {
  closeHostClients();
  if (usedDb) await db().$disconnect();
  // The portal's client of the local hypervisor keeps retrying until the process ends.
  process.exit();
}
