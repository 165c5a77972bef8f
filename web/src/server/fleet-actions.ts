// Administrator actions across the hosts of a fleet: "Move to…" (live relocation of a VM to
// another host, `domain:migrate` on its current host) and "Clone…" (copies of a running VM,
// `domain:clone`, placed by the portal or on a chosen host, optionally handed to listed users or
// to every member of a group as their personal desktop).
import type { DomainInfo } from '@raydesk/hypervisor/api';
import { audit } from './audit.ts';
import { config } from './config.ts';
import type { Db } from './db.ts';
import { chooseHost, connectedHost, fleetMode, isLive, type HostRow } from './fleet.ts';
import { HttpError } from './http.ts';
import { isHypervisorError } from './hypervisor.ts';
import { destroyVm, hypervisorOf, stateFields, type VmRow } from './vms.ts';
import { MAX_CLONES, type VmCloneRequest } from '../lib/validation.ts';

export interface AdminActor {
  id: string;
  email: string;
  address: string;
}

/** A host refused the call (wrong state, draining, no memory): its own words, as a 409. */
function refusal(error: unknown, what: string): never {
  if (isHypervisorError(error)) {
    throw new HttpError(409, 'host_refused', `The host refused to ${what}: ${error.message}`);
  }
  throw error;
}

function needsDomain(vm: VmRow): string {
  if (!vm.domainId)
    throw new HttpError(409, 'not_ready', 'This VM has not been created on a host yet.');
  return vm.domainId;
}

/** A registered host that is live and takes VMs, or a clear error naming what is wrong. */
async function targetHost(db: Db, hostId: string): Promise<HostRow> {
  const host = await db.hypervisorHost.findUnique({ where: { id: hostId } });
  if (!host) throw new HttpError(404, 'no_such_host', `There is no host ${hostId} in the fleet.`);
  if (!isLive(host))
    throw new HttpError(503, 'host_offline', `Host ${hostId} is offline; choose another host.`);
  if (host.draining)
    throw new HttpError(
      409,
      'host_draining',
      `Host ${hostId} is being drained and takes no VMs; choose another host.`,
    );
  return host;
}

/** Moves a running or paused VM to another live host of the fleet, without stopping it. */
export async function moveVm(db: Db, vm: VmRow, hostId: string, actor: AdminActor): Promise<VmRow> {
  if (!fleetMode() || !vm.hostId)
    throw new HttpError(409, 'not_a_fleet', 'Moving a VM needs a fleet of more than one host.');
  const domainId = needsDomain(vm);
  if (hostId === vm.hostId)
    throw new HttpError(400, 'same_host', `This VM already runs on ${hostId}.`);
  const target = await targetHost(db, hostId);
  const { client } = await connectedHost(db, vm.hostId);
  let report;
  try {
    report = await client.call('domain:migrate', { id: domainId, to: target.url });
  } catch (error) {
    refusal(error, `move ${domainId} to ${hostId}`);
  }
  const moved = await db.vm.update({
    where: { id: vm.id },
    data: { hostId: target.id, domainId: report.id },
  });
  await audit(db, {
    action: 'vm.move',
    actorId: actor.id,
    actorEmail: actor.email,
    targetType: 'vm',
    targetId: vm.id,
    address: actor.address,
    details: {
      domainId: report.id,
      from: vm.hostId,
      to: target.id,
      pausedMs: report.pausedMs,
      totalMs: report.totalMs,
      bytes: report.bytes,
    },
  });
  return moved;
}

/** One copy asked for: its recipient (null: the administrator) and, once made, its VM row. */
export interface CloneResult {
  email: string | null;
  vmId?: string;
  domainId?: string;
  hostId?: string;
  /** The recipient's previous personal desktop, destroyed for this copy (`replace`). */
  replacedVmId?: string;
  error?: string;
}

interface Recipient {
  result: CloneResult;
  ownerId: string;
  /** The personal desktop this copy replaces, destroyed once the copy runs. */
  replaces: VmRow | null;
}

/**
 * The users a copy is handed to: the listed emails or the group's members. A user who already
 * has a personal desktop gets an error and no copy, unless `replace` says the copy takes its
 * place; the VM being copied is never replaced.
 */
async function handOutTo(db: Db, vm: VmRow, request: VmCloneRequest): Promise<Recipient[]> {
  let users: { email: string; id: string | null }[];
  if (request.group !== undefined) {
    const group = await db.group.findUnique({
      where: { name: request.group },
      include: { members: { include: { user: true }, orderBy: { createdAt: 'asc' } } },
    });
    if (!group) throw new HttpError(404, 'no_such_group', `There is no group ${request.group}.`);
    if (group.members.length === 0)
      throw new HttpError(409, 'empty_group', `Group ${group.name} has no members.`);
    if (group.members.length > MAX_CLONES)
      throw new HttpError(
        409,
        'group_too_large',
        `Group ${group.name} has ${group.members.length} members; at most ${MAX_CLONES} copies at a time.`,
      );
    users = group.members.map(({ user }) => ({ email: user.email, id: user.id }));
  } else {
    users = [];
    for (const email of request.emails ?? []) {
      const user = await db.user.findUnique({ where: { email } });
      users.push({ email, id: user?.id ?? null });
    }
  }
  const recipients: Recipient[] = [];
  for (const { email, id } of users) {
    const result: CloneResult = { email };
    recipients.push({ result, ownerId: id ?? '', replaces: null });
    if (id === null) {
      result.error = `There is no user ${email}.`;
      continue;
    }
    const desktop = await db.vm.findFirst({
      where: { ownerId: id, kind: 'personal', state: { not: 'destroyed' } },
    });
    if (!desktop) continue;
    if (desktop.id === vm.id) {
      result.error = `${email} owns the desktop being copied; it is not replaced by its own copy.`;
    } else if (!request.replace) {
      result.error =
        `${email} already has a personal desktop (${desktop.domainId ?? desktop.id}); ` +
        'choose "replace" to hand them the copy instead (their desktop is destroyed).';
    } else {
      recipients.at(-1)!.replaces = desktop;
    }
  }
  return recipients;
}

/**
 * Copies of a running VM. By count, the copies are the administrator's; by emails or a group,
 * each copy becomes that user's personal desktop (see handOutTo for who gets none). Copies go on
 * `hostId`, or each where placement puts it. Resolves with one result per copy asked for; a host
 * refusing a batch fails only that batch's results.
 */
export async function cloneVm(
  db: Db,
  vm: VmRow,
  request: VmCloneRequest,
  actor: AdminActor,
): Promise<CloneResult[]> {
  const domainId = needsDomain(vm);
  if (vm.state !== 'running')
    throw new HttpError(409, 'not_running', 'Only a running VM can be cloned; resume it first.');

  const count = request.count;
  const personal = count === undefined;
  const all: Recipient[] = personal
    ? await handOutTo(db, vm, request)
    : Array.from({ length: count }, () => ({
        result: { email: null },
        ownerId: actor.id,
        replaces: null,
      }));
  const results = all.map((r) => r.result);
  const recipients = all.filter((r) => !r.result.error);
  if (recipients.length === 0) return results;

  const placements = await placeClones(db, vm, request.hostId, recipients.length);
  // One `domain:clone` per target host: the source is captured once per batch.
  const batches = new Map<string, { host: HostRow | null; recipients: typeof recipients }>();
  recipients.forEach((recipient, n) => {
    const host = placements[n]!;
    const key = host?.id ?? '';
    const batch = batches.get(key) ?? { host, recipients: [] };
    batch.recipients.push(recipient);
    batches.set(key, batch);
  });

  const source = await hypervisorOf(db, vm);
  for (const { host, recipients: batch } of batches.values()) {
    const to = host && host.id !== vm.hostId ? host.url : undefined;
    let clones: DomainInfo[];
    try {
      clones = await source.call('domain:clone', { id: domainId, count: batch.length, to });
    } catch (error) {
      const message = isHypervisorError(error)
        ? `The host refused the copy: ${error.message}`
        : `The copy failed: ${error instanceof Error ? error.message : String(error)}`;
      for (const { result } of batch) result.error = message;
      continue;
    }
    const hostId = host?.id ?? vm.hostId;
    for (const [n, { result, ownerId, replaces }] of batch.entries()) {
      const info = clones[n];
      if (!info) {
        result.error = 'The host made fewer copies than asked for.';
        continue;
      }
      // The copy runs: only now does the desktop it replaces go.
      if (replaces) {
        await destroyVm(db, replaces, 'replaced-by-clone', actor);
        result.replacedVmId = replaces.id;
      }
      const now = new Date();
      const row = await db.vm.create({
        data: {
          ownerId,
          kind: personal ? 'personal' : vm.kind,
          applianceId: vm.applianceId,
          hostId,
          domainId: info.id,
          startedAt: now,
          ...stateFields(info, now),
        },
      });
      Object.assign(result, { vmId: row.id, domainId: info.id, hostId: hostId ?? undefined });
      await audit(db, {
        action: 'vm.clone',
        actorId: actor.id,
        actorEmail: actor.email,
        targetType: 'vm',
        targetId: row.id,
        address: actor.address,
        details: {
          source: vm.id,
          sourceDomainId: domainId,
          domainId: info.id,
          host: hostId,
          for: result.email,
          group: request.group,
          replaced: replaces?.id,
        },
      });
    }
  }
  return results;
}

/**
 * The host of each copy: the chosen host for all, or (in a fleet) placement one copy at a time,
 * counting the copies already placed. Null means the VM's own host outside a fleet.
 */
async function placeClones(
  db: Db,
  vm: VmRow,
  hostId: string | undefined,
  count: number,
): Promise<(HostRow | null)[]> {
  if (!fleetMode()) {
    if (hostId !== undefined && hostId !== (vm.hostId ?? config().HYPERVISOR_ID))
      throw new HttpError(409, 'not_a_fleet', 'Copies go on this machine: there is one host.');
    return Array.from({ length: count }, () => null);
  }
  if (hostId !== undefined) {
    const host = await targetHost(db, hostId);
    return Array.from({ length: count }, () => host);
  }
  const hosts = await db.hypervisorHost.findMany();
  const appliance = await db.appliance.findUniqueOrThrow({ where: { id: vm.applianceId } });
  const hvAppliance =
    appliance.name === 'desktop'
      ? config().PORTAL_DESKTOP_APPLIANCE
      : appliance.name === 'browser'
        ? config().PORTAL_BROWSER_APPLIANCE
        : appliance.name;
  const placed: HostRow[] = [];
  for (let n = 0; n < count; n++) {
    const host = chooseHost(hosts, hvAppliance, vm.memoryMiB);
    if (!host)
      throw new HttpError(503, 'host_full', 'No host can take another VM right now. Try later.');
    // A clone never uses a standby VM: count its memory whatever the host's standby.
    host.memoryUsedMiB += vm.memoryMiB;
    host.standby = '';
    placed.push(host);
  }
  return placed;
}
