// VM lifecycle as the portal sees it: a Vm row per hypervisor domain, kept in step with the
// hypervisor. Personal desktops persist (suspend/resume); disposable browsers are destroyed at
// logout, after their last tab closed (grace period) or at their maximum lifetime.
import type { DomainInfo, HypervisorClient } from '@raydesk/hypervisor/api';
import type { Db } from './db.ts';
import { audit } from './audit.ts';
import { config } from './config.ts';
import { HttpError, notFound } from './http.ts';
import { hypervisor, isHypervisorError } from './hypervisor.ts';
import { connectedHost, fleetMode, hostClient, isLive, placeNewVm } from './fleet.ts';
import { log } from './log.ts';
import { assertAllowedAppliance, startableAppliances } from './policy.ts';
import { StepTimes } from './step-times.ts';
import type { Viewer } from './auth/request.ts';
import { VM_STATES, type VmState } from '../lib/validation.ts';

/** VMs that count against quotas and show as the user's: every state but the two ends. */
export const ACTIVE_STATES: VmState[] = VM_STATES.filter(
  (state) => state !== 'stopped' && state !== 'destroyed',
);

export type VmRow = NonNullable<Awaited<ReturnType<Db['vm']['findFirst']>>>;
type Appliance = NonNullable<Awaited<ReturnType<Db['appliance']['findUnique']>>>;

export function stateFields(info: DomainInfo, now = new Date()) {
  return {
    state: info.state,
    memoryMiB: info.memoryMiB,
    cpuPercent: info.cpuPercent,
    ...(info.state === 'saved' ? { suspendedAt: now } : {}),
    ...(info.state === 'stopped' ? { destroyedAt: now } : {}),
  };
}

/** The client of the host a VM lives on: its registered host in a fleet, else the one host. */
export async function hypervisorOf(
  db: Db,
  vm: { hostId: string | null },
): Promise<HypervisorClient> {
  if (fleetMode() && vm.hostId) return (await connectedHost(db, vm.hostId)).client;
  return hypervisor();
}

/** A user's own VM, or 404 (never tells whether someone else's VM exists). */
export async function ownVm(db: Db, viewer: { id: string }, id: string): Promise<VmRow> {
  const vm = await db.vm.findFirst({
    where: { id, ownerId: viewer.id, state: { not: 'destroyed' } },
  });
  if (!vm) throw notFound('No such VM.');
  return vm;
}

/** The user's VMs that count against the quotas. */
function activeVms(db: Db, userId: string): Promise<{ id: string; memoryMiB: number }[]> {
  return db.vm.findMany({
    where: { ownerId: userId, state: { in: ACTIVE_STATES } },
    select: { id: true, memoryMiB: true },
  });
}

function assertWithinQuota(
  viewer: Viewer,
  active: { memoryMiB: number }[],
  memoryMiB: number,
): void {
  if (active.length + 1 > viewer.maxVms) {
    throw new HttpError(
      409,
      'quota_vms',
      `You may have at most ${viewer.maxVms} VM${viewer.maxVms === 1 ? '' : 's'} at a time. Close one first.`,
    );
  }
  const used = active.reduce((sum, v) => sum + v.memoryMiB, 0);
  if (used + memoryMiB > viewer.maxMemoryMiB) {
    throw new HttpError(
      409,
      'quota_memory',
      `This would use ${used + memoryMiB} MiB of memory; your quota is ${viewer.maxMemoryMiB} MiB.`,
    );
  }
}

/** What deciding whether a user may start a VM reads; the reads are independent, so one wait. */
interface StartChecks {
  appliance: Appliance | null;
  /** startableAppliances: null allows any. */
  allowed: string[] | null;
  active: { id: string; memoryMiB: number }[];
}

async function loadStartChecks(
  db: Db,
  viewer: Viewer,
  applianceName: 'desktop' | 'browser',
): Promise<StartChecks> {
  const [appliance, allowed, active] = await Promise.all([
    db.appliance.findUnique({ where: { name: applianceName } }),
    startableAppliances(db, viewer),
    activeVms(db, viewer.id),
  ]);
  return { appliance, allowed, active };
}

export type VmWithAppliance = VmRow & { appliance: Appliance };

async function createDomain(
  db: Db,
  viewer: Viewer,
  applianceName: 'desktop' | 'browser',
  kind: 'personal' | 'disposable',
  address: string,
  checks: StartChecks,
  times: StepTimes,
): Promise<VmWithAppliance> {
  const { appliance } = checks;
  if (!appliance || !appliance.enabled)
    throw new HttpError(
      503,
      'appliance_unavailable',
      `The ${applianceName} appliance is not available.`,
    );
  assertAllowedAppliance(checks.allowed, appliance);
  assertWithinQuota(viewer, checks.active, appliance.memoryMiB);
  const hvAppliance =
    applianceName === 'desktop'
      ? config().PORTAL_DESKTOP_APPLIANCE
      : config().PORTAL_BROWSER_APPLIANCE;
  // In a fleet the VM goes to the host with the most headroom; a personal desktop then stays
  // there (its disk is there).
  const placed = fleetMode()
    ? await placeNewVm(db, hvAppliance, appliance.memoryMiB)
    : { host: { id: config().HYPERVISOR_ID }, client: await hypervisor() };
  const hv = placed.client;
  const now = new Date();
  const lifetimeMin = appliance.maxLifetimeMin ?? config().DISPOSABLE_MAX_LIFETIME_MINUTES;
  // The row first: a VM the host creates is never without one, whatever fails later.
  const row = await times.time('vmRow', () =>
    db.vm.create({
      data: {
        ownerId: viewer.id,
        kind,
        applianceId: appliance.id,
        hostId: placed.host.id,
        state: 'creating',
        memoryMiB: appliance.memoryMiB,
        ...(kind === 'disposable'
          ? { expiresAt: new Date(now.getTime() + lifetimeMin * 60_000), lastSeenAt: now }
          : {}),
      },
    }),
  );
  try {
    const info = await times.time('hvCreate', () =>
      hv.create({
        appliance: hvAppliance,
        kind,
        owner: viewer.id,
        name: `${kind === 'personal' ? 'desk' : 'web'}-${row.id.slice(-8)}`,
      }),
    );
    // Both written before the answer (the audit record cannot be lost with a crash after it),
    // side by side rather than one after the other.
    const [vm] = await times.time('vmUpdateAudit', () =>
      Promise.all([
        db.vm.update({
          where: { id: row.id },
          data: { domainId: info.id, startedAt: now, ...stateFields(info) },
          include: { appliance: true },
        }),
        audit(db, {
          action: 'vm.create',
          actorId: viewer.id,
          actorEmail: viewer.email,
          targetType: 'vm',
          targetId: row.id,
          address,
          details: { appliance: applianceName, kind, domainId: info.id, host: placed.host.id },
        }),
      ]),
    );
    return vm;
  } catch (error) {
    await db.vm.update({
      where: { id: row.id },
      data: { state: 'destroyed', destroyedAt: new Date() },
    });
    if (isHypervisorError(error, 'insufficient_memory')) {
      throw new HttpError(
        503,
        'host_full',
        'The host has no memory left for another VM right now. Try again later.',
      );
    }
    throw error;
  }
}

/**
 * Brings a domain to running: the host unpauses, resumes or restarts it (after its own restart
 * too: it recorded the domain). Null when the host has no such domain any more.
 */
async function resumeDomain(hv: HypervisorClient, domainId: string): Promise<DomainInfo | null> {
  try {
    return await hv.resume(domainId);
  } catch (error) {
    if (isHypervisorError(error, 'not_found')) return null;
    throw error;
  }
}

/**
 * "Open desktop": the user's personal VM, created on first use or resumed. The reads both paths
 * need (the existing desktop, the appliance, the group policy, the quota) go out together.
 */
export async function openDesktop(
  db: Db,
  viewer: Viewer,
  address: string,
  times = new StepTimes(),
): Promise<VmWithAppliance> {
  const [existing, checks] = await times.time('lookups', () =>
    Promise.all([
      db.vm.findFirst({
        where: { ownerId: viewer.id, kind: 'personal', state: { not: 'destroyed' } },
        orderBy: { createdAt: 'desc' },
        include: { appliance: true },
      }),
      loadStartChecks(db, viewer, 'desktop'),
    ]),
  );
  if (existing?.domainId) {
    // A group policy may forbid the desktop after it was made: it is then not started either.
    assertAllowedAppliance(checks.allowed, existing.appliance);
    const before = existing.state;
    const hv = await hypervisorOf(db, existing);
    const info = await times.time('hvResume', () => resumeDomain(hv, existing.domainId!));
    if (info) {
      const [vm] = await times.time('vmUpdateAudit', () =>
        Promise.all([
          db.vm.update({
            where: { id: existing.id },
            data: {
              ...stateFields(info),
              startedAt: before === 'running' ? existing.startedAt : new Date(),
            },
            include: { appliance: true },
          }),
          before !== 'running'
            ? audit(db, {
                action: 'vm.resume',
                actorId: viewer.id,
                actorEmail: viewer.email,
                targetType: 'vm',
                targetId: existing.id,
                address,
                details: { from: before },
              })
            : undefined,
        ]),
      );
      return vm;
    }
  }
  if (existing) {
    await db.vm.update({
      where: { id: existing.id },
      data: { state: 'destroyed', destroyedAt: new Date() },
    });
  }
  // The replaced row no longer counts against the quota.
  const active = checks.active.filter((v) => v.id !== existing?.id);
  return createDomain(db, viewer, 'desktop', 'personal', address, { ...checks, active }, times);
}

export async function openDisposable(
  db: Db,
  viewer: Viewer,
  address: string,
): Promise<VmWithAppliance> {
  const checks = await loadStartChecks(db, viewer, 'browser');
  return createDomain(db, viewer, 'browser', 'disposable', address, checks, new StepTimes());
}

export async function destroyVm(
  db: Db,
  vm: VmRow,
  reason: string,
  actor: { id?: string | null; email?: string | null; address?: string | null } = {},
): Promise<void> {
  if (vm.domainId) {
    try {
      const hv = await hypervisorOf(db, vm);
      await hv.destroy(vm.domainId);
    } catch (error) {
      if (!isHypervisorError(error, 'not_found')) throw error;
    }
  }
  await db.vm.update({
    where: { id: vm.id },
    data: { state: 'destroyed', destroyedAt: new Date() },
  });
  await db.endpointConnection.updateMany({
    where: { vmId: vm.id, endedAt: null },
    data: { endedAt: new Date(), endReason: 'vm-destroyed' },
  });
  await audit(db, {
    action: 'vm.destroy',
    actorId: actor.id ?? null,
    actorEmail: actor.email ?? null,
    targetType: 'vm',
    targetId: vm.id,
    address: actor.address ?? null,
    details: { reason, kind: vm.kind, domainId: vm.domainId },
  });
}

export async function vmAction(
  db: Db,
  vm: VmRow,
  action: 'suspend' | 'resume' | 'reboot' | 'destroy',
  actor: { id: string; email: string; address: string },
): Promise<void> {
  if (action === 'destroy') return destroyVm(db, vm, 'admin', actor);
  if (!vm.domainId)
    throw new HttpError(409, 'not_ready', 'This VM has not been created on a host yet.');
  const hv = await hypervisorOf(db, vm);
  let info: DomainInfo | null;
  if (action === 'suspend') info = (await hv.save(vm.domainId)).info;
  else if (action === 'reboot') info = await hv.reboot(vm.domainId);
  else info = await resumeDomain(hv, vm.domainId);
  if (info) await db.vm.update({ where: { id: vm.id }, data: stateFields(info) });
  await audit(db, {
    action: `vm.${action}`,
    actorId: actor.id,
    actorEmail: actor.email,
    targetType: 'vm',
    targetId: vm.id,
    address: actor.address,
    details: { domainId: vm.domainId },
  });
}

/** Destroys every disposable VM of a user (at logout). */
export async function destroyDisposables(
  db: Db,
  userId: string,
  reason: string,
  actor: { id?: string; email?: string; address?: string } = {},
): Promise<number> {
  const vms = await db.vm.findMany({
    where: { ownerId: userId, kind: 'disposable', state: { not: 'destroyed' } },
  });
  for (const vm of vms) {
    try {
      await destroyVm(db, vm, reason, actor);
    } catch (error) {
      log.error({ vm: vm.id, err: error }, 'could not destroy a disposable VM');
    }
  }
  return vms.length;
}

/**
 * Periodic housekeeping: sync VM states and the host row from the hypervisor, and destroy
 * disposables past their lifetime or whose tabs closed more than the grace period ago.
 */
async function reconcileLocalHost(db: Db, now: Date): Promise<void> {
  const c = config();
  let hv: HypervisorClient | null = null;
  try {
    hv = await hypervisor(1_000);
  } catch {
    await db.hypervisorHost.updateMany({
      where: { id: c.HYPERVISOR_ID },
      data: { status: 'offline' },
    });
  }
  if (hv) {
    const [host, domains] = await Promise.all([hv.hostInfo(), hv.list()]);
    await db.hypervisorHost.upsert({
      where: { id: c.HYPERVISOR_ID },
      create: {
        id: c.HYPERVISOR_ID,
        name: 'This machine',
        url: `http://${c.HYPERVISOR_HOST}:${c.HYPERVISOR_PORT}`,
      },
      update: {
        memoryBudgetMiB: host.memoryBudgetMiB,
        memoryUsedMiB: host.memoryUsedMiB,
        cores: host.cores,
        domains: host.domains,
        running: host.running,
        status: 'online',
        lastHeartbeatAt: now,
      },
    });
    await syncVms(
      db,
      domains,
      await db.vm.findMany({ where: { state: { not: 'destroyed' }, domainId: { not: null } } }),
      now,
    );
  }
}

/**
 * Fleet: each host's row is written by its own heartbeat; a host without one for
 * HOST_OFFLINE_AFTER_MS is shown offline and its VMs keep their rows untouched until it is
 * back. VMs of live hosts are synced with what their host lists.
 */
async function reconcileFleet(db: Db, now: Date): Promise<void> {
  const hosts = await db.hypervisorHost.findMany();
  for (const host of hosts) {
    const live = isLive(host, now);
    if (live !== (host.status === 'online')) {
      await db.hypervisorHost.update({
        where: { id: host.id },
        data: { status: live ? 'online' : 'offline' },
      });
    }
    if (!live) continue;
    let domains: DomainInfo[];
    try {
      const client = hostClient(host);
      await client.connected(1_000);
      domains = await client.list();
    } catch (error) {
      log.warn({ host: host.id, err: String(error) }, 'fleet host did not list its VMs');
      continue;
    }
    const rows = await db.vm.findMany({
      where: { hostId: host.id, state: { not: 'destroyed' }, domainId: { not: null } },
    });
    await syncVms(db, domains, rows, now);
  }
}

/** Brings VM rows in step with the domains their host lists. */
async function syncVms(db: Db, domains: DomainInfo[], rows: VmRow[], now: Date): Promise<void> {
  const byId = new Map(domains.map((d) => [d.id, d]));
  for (const vm of rows) {
    const info = byId.get(vm.domainId!);
    if (!info) {
      // Gone from the host. Personal desktops keep their row if a state file may restore them.
      if (vm.kind === 'disposable' || vm.state !== 'saved') {
        await db.vm.update({
          where: { id: vm.id },
          data: {
            state: vm.kind === 'disposable' ? 'destroyed' : 'stopped',
            destroyedAt: vm.kind === 'disposable' ? now : null,
          },
        });
      }
      continue;
    }
    if (info.state !== vm.state || Math.abs(info.cpuPercent - vm.cpuPercent) > 0.5) {
      await db.vm.update({ where: { id: vm.id }, data: stateFields(info, now) });
    }
  }
}

export async function reconcile(db: Db, now = new Date()): Promise<void> {
  const c = config();
  if (fleetMode()) await reconcileFleet(db, now);
  else await reconcileLocalHost(db, now);
  const graceMs = c.DISPOSABLE_GRACE_SECONDS * 1000;
  const disposables = await db.vm.findMany({
    where: { kind: 'disposable', state: { not: 'destroyed' } },
    include: { connections: { where: { endedAt: null }, select: { id: true } } },
  });
  for (const vm of disposables) {
    const expired = vm.expiresAt !== null && vm.expiresAt <= now;
    const abandoned =
      vm.connections.length === 0 &&
      (vm.lastSeenAt ?? vm.createdAt).getTime() + graceMs <= now.getTime();
    if (expired || abandoned) {
      try {
        await destroyVm(db, vm, expired ? 'max-lifetime' : 'tab-closed');
      } catch (error) {
        log.error({ vm: vm.id, err: error }, 'reaper could not destroy a disposable VM');
      }
    }
  }
}
