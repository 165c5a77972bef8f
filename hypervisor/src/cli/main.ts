// `npm run vm -- <verb>`: the operator CLI, modelled on Xen's `xl`. It talks to the running
// daemon over the control channel, like every other client.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import {
  APPLIANCE_NAMES,
  DEFAULT_FORWARD_LISTEN,
  HypervisorClient,
  HypervisorError,
  SCHED_WEIGHT_MAX,
  applianceNameSchema,
  domainIdSchema,
  type DomainInfo,
  type RelocationReport,
} from '../api/index.ts';
import { loadConfig } from '../config.ts';
import { FleetHosts, HostArgumentError, type NamedHost } from './fleet-hosts.ts';
import { formatDomainTable } from './format.ts';
import { formatNetworkInfo, formatPortForward } from '../network/format.ts';
import { parseListenArgument } from './listen.ts';

class UsageError extends Error {}

function parseArg<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new UsageError(
      `invalid ${what}: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return parsed.data;
}

const memorySchema = z.coerce.number().int().min(16).max(2048);
const schedWeightSchema = z.coerce.number().int().min(1).max(SCHED_WEIGHT_MAX);
const schedCapSchema = z.coerce.number().int().min(0).max(100);
const cloneCountSchema = z.coerce.number().int().min(1).max(16);
const hostArgSchema = z.string().min(1).max(2048);

let client: HypervisorClient | null = null;
async function connect(): Promise<HypervisorClient> {
  if (client) return client;
  const config = loadConfig();
  client = new HypervisorClient({
    url: `http://${config.host}:${config.port}`,
    secret: config.secret,
    timeoutMs: 15 * 60_000,
  });
  try {
    await client.connected(5_000);
  } catch (error) {
    throw new UsageError(
      `cannot reach the hypervisor at ${config.host}:${config.port} (${(error as Error).message}); ` +
        'is it running? Start everything with `npm start`.',
    );
  }
  return client;
}

const id = (value: string) => parseArg(domainIdSchema, value, 'domain id');
const portSchema = z.coerce.number().int().min(1).max(65535);
function listen(value: string): { host?: string; port: number } {
  const parsed = parseListenArgument(value);
  if (!parsed.ok) throw new UsageError(`invalid listen address "${value}": ${parsed.error}`);
  return parsed.value;
}

let fleetHosts: FleetHosts | null = null;
/** A host argument: a control URL, or a host id of the fleet registry. */
async function host(value: string): Promise<NamedHost> {
  fleetHosts ??= new FleetHosts(loadConfig().fleet);
  try {
    return await fleetHosts.resolve(parseArg(hostArgSchema, value, 'host'));
  } catch (error) {
    if (error instanceof HostArgumentError) throw new UsageError(error.message);
    throw error;
  }
}

const peers = new Map<string, HypervisorClient>();
/** The hypervisor to act on: `--from <host>`, or this machine's (HYPERVISOR_URL). */
async function connectTo(from: string | undefined): Promise<HypervisorClient> {
  if (from === undefined) return connect();
  const { url } = await host(from);
  let peer = peers.get(url);
  if (!peer) {
    peer = new HypervisorClient({ url, secret: loadConfig().secret, timeoutMs: 15 * 60_000 });
    peers.set(url, peer);
  }
  await peer.connected(5_000).catch((error: Error) => {
    throw new UsageError(`cannot reach the hypervisor at ${url} (${error.message})`);
  });
  return peer;
}

function printRelocation(report: RelocationReport): void {
  console.log(
    `moved ${report.id} from ${report.fromHostId} to ${report.toHostId}: ` +
      `${report.rounds} pre-copy rounds, ${(report.bytes / 2 ** 20).toFixed(1)} MiB sent, ` +
      `paused ${report.pausedMs} ms, ${report.totalMs} ms in all`,
  );
}

function printInfo(info: DomainInfo): void {
  console.log(formatDomainTable([info]));
}

const program = new Command('vm')
  .description('Raydesk hypervisor control (xl-style)')
  .exitOverride()
  .showHelpAfterError();

program
  .command('list')
  .description('list domains: id, name, appliance, state, memory, CPU%, uptime')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const domains = await (await connect()).list();
    console.log(opts.json ? JSON.stringify(domains, null, 2) : formatDomainTable(domains));
  });

program
  .command('info')
  .description('host memory budget and use')
  .action(async () => console.log(JSON.stringify(await (await connect()).hostInfo(), null, 2)));

program
  .command('create')
  .description('create and start a domain from an appliance')
  .addOption(
    new Option('--appliance <name>', 'appliance')
      .choices([...APPLIANCE_NAMES])
      .makeOptionMandatory(),
  )
  .option('--name <name>', 'domain name')
  .option('--memory <MiB>', 'guest RAM in MiB (default: the appliance default)')
  .option('--cold-boot', 'boot from scratch instead of the golden snapshot')
  .action(
    async (opts: { appliance: string; name?: string; memory?: string; coldBoot?: boolean }) => {
      const request = {
        appliance: parseArg(applianceNameSchema, opts.appliance, 'appliance'),
        name: opts.name,
        memoryMiB:
          opts.memory === undefined ? undefined : parseArg(memorySchema, opts.memory, 'memory'),
        coldBoot: opts.coldBoot ?? false,
      };
      const started = performance.now();
      const info = await (await connect()).create(request);
      printInfo(info);
      console.error(`started in ${Math.round(performance.now() - started)} ms`);
    },
  );

for (const verb of ['pause', 'unpause', 'reboot', 'destroy', 'start'] as const) {
  program
    .command(`${verb} <id>`)
    .description(
      {
        pause: 'stop running a domain, keeping it in memory',
        unpause: 'resume a paused domain (the guest clock is corrected)',
        reboot: 'reset a domain',
        destroy: 'end a domain and free its memory',
        start: 'restart a crashed domain, or resume a saved one',
      }[verb],
    )
    .action(async (domainId: string) => {
      const ref = id(domainId);
      printInfo(await (await connect())[verb](ref));
    });
}

program
  .command('save <id> <file>')
  .description('suspend a domain to a file; it then holds no RAM')
  .action(async (domainId: string, file: string) => {
    const ref = id(domainId);
    const path = resolve(parseArg(z.string().min(1), file, 'file'));
    const started = performance.now();
    const saved = await (await connect()).save(ref, path);
    console.log(
      `saved ${saved.info.id} to ${saved.file} (${(saved.bytes / 2 ** 20).toFixed(1)} MiB) ` +
        `in ${Math.round(performance.now() - started)} ms`,
    );
  });

program
  .command('restore <file>')
  .description('resume a domain from a file written by save')
  .action(async (file: string) => {
    const started = performance.now();
    printInfo(await (await connect()).restore(resolve(file)));
    console.error(`restored in ${Math.round(performance.now() - started)} ms`);
  });

program
  .command('disk <id>')
  .description("the domain's disk: memory or durable overlay, its size, and its base image")
  .action(async (domainId: string) => {
    const ref = id(domainId);
    const disk = await (await connect()).disk(ref);
    const mib = (bytes: number) =>
      bytes < 0 ? 'unknown (not running)' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `kind       ${disk.kind === 'durable' ? 'durable overlay (personal)' : 'memory overlay (wiped on destroy)'}`,
    );
    console.log(`written    ${mib(disk.overlayBytes)}`);
    if (disk.kind === 'durable') {
      console.log(`file       ${disk.path} (${mib(disk.fileBytes)})`);
      if (disk.generation >= 0) console.log(`writes     ${disk.generation} blocks since creation`);
    }
    console.log(
      `base       ${disk.base.appliance} image ${disk.base.recipeHash} (${mib(disk.base.baseBytes)})`,
    );
  });

program
  .command('sched <id>')
  .description("show a domain's credit scheduler weight and cap, or set them")
  .option('--weight <W>', 'relative CPU share when domains compete (default 256)')
  .option('--cap <C>', 'most CPU the domain may use, in percent of one core (0 = no cap)')
  .action(async (domainId: string, opts: { weight?: string; cap?: string }) => {
    const ref = id(domainId);
    const update = {
      weight:
        opts.weight === undefined ? undefined : parseArg(schedWeightSchema, opts.weight, 'weight'),
      cap: opts.cap === undefined ? undefined : parseArg(schedCapSchema, opts.cap, 'cap'),
    };
    const sched = await (await connect()).sched(ref, update);
    const budget = sched.budgetMs === null ? 'unlimited' : `${sched.budgetMs} ms`;
    console.log(
      `${sched.id}  weight ${sched.weight}  cap ${sched.cap ? `${sched.cap}%` : 'none'}  ` +
        `scheduler ${sched.enabled ? 'on' : 'off'}  budget ${budget} per ${sched.periodMs} ms  ` +
        `cpu ${(sched.cpuMs / 1000).toFixed(1)} s  throttled ${(sched.throttledMs / 1000).toFixed(1)} s`,
    );
  });

program
  .command('net <id>')
  .description("the domain's NIC, egress policy, and connection and byte counters")
  .option('--json', 'print JSON')
  .action(async (domainId: string, opts: { json?: boolean }) => {
    const info = await (await connect()).net(id(domainId));
    console.log(opts.json ? JSON.stringify(info, null, 2) : formatNetworkInfo(info));
  });

program
  .command('forward <id> <guestPort>')
  .description(
    'forward a host port to a guest TCP port until the VM stops (host: loopback, any free port)',
  )
  .option(
    '--listen <[host:]port>',
    'where the host listens, e.g. 127.0.0.1:5901 (default 127.0.0.1:0)',
  )
  .action(async (domainId: string, guestPort: string, opts: { listen?: string }) => {
    const request = {
      id: id(domainId),
      guestPort: parseArg(portSchema, guestPort, 'guest port'),
      // A bare port listens on loopback, like no --listen at all.
      listen:
        opts.listen === undefined
          ? undefined
          : { ...DEFAULT_FORWARD_LISTEN, ...listen(opts.listen) },
    };
    console.log(formatPortForward(await (await connect()).forward(request)));
  });

program
  .command('unforward <id> <listen>')
  .description('close a port forward: the host port, or host:port, it listens on')
  .action(async (domainId: string, where: string) => {
    const ref = id(domainId);
    const closed = await (await connect()).unforward(ref, listen(where));
    console.log(`closed ${formatPortForward(closed)}`);
  });

program
  .command('console <id>')
  .description("print the domain's serial console log")
  .action(async (domainId: string) => {
    const ref = id(domainId);
    process.stdout.write(await (await connect()).console(ref));
  });

program
  .command('screenshot [id]')
  .description('write a PNG of the screen; with --appliance, of a throwaway VM from its snapshot')
  .addOption(new Option('--appliance <name>', 'appliance').choices([...APPLIANCE_NAMES]))
  .requiredOption('--out <file>', 'PNG file to write')
  .action(async (domainId: string | undefined, opts: { appliance?: string; out: string }) => {
    const out = resolve(opts.out);
    if (opts.appliance) {
      if (domainId) throw new UsageError('give either a domain id or --appliance, not both');
      const appliance = parseArg(applianceNameSchema, opts.appliance, 'appliance');
      const hv = await connect();
      const started = performance.now();
      const info = await hv.create({ appliance, name: `screenshot-${appliance}` });
      try {
        const png = await firstFullFrame(hv, info.id);
        const ms = Math.round(performance.now() - started);
        writeFileSync(out, png);
        console.log(`${ms} ms to first full frame; wrote ${out}`);
      } finally {
        await hv.destroy(info.id);
      }
      return;
    }
    if (!domainId) throw new UsageError('give a domain id or --appliance');
    const ref = id(domainId);
    writeFileSync(out, await (await connect()).screenshot(ref));
    console.log(`wrote ${out}`);
  });

/** Waits for the first keyframe of a freshly started VM, then takes its screenshot. */
async function firstFullFrame(hv: HypervisorClient, domainId: string): Promise<Uint8Array> {
  const keyframe = new Promise<void>((resolveFrame) => {
    const onFrame = (frame: { domainId: string; keyframe: boolean; width: number }) => {
      if (frame.domainId === domainId && frame.keyframe && frame.width > 0) {
        hv.socket.off('display:frame', onFrame);
        resolveFrame();
      }
    };
    hv.socket.on('display:frame', onFrame);
  });
  await hv.watch(domainId);
  await keyframe;
  const png = await hv.screenshot(domainId);
  await hv.unwatch(domainId);
  return png;
}

program
  .command('migrate <id>')
  .description('move a running domain to another host while it runs (its id and disk go along)')
  .requiredOption('--to <host>', 'target host: control URL, or host id in a fleet')
  .option('--from <host>', 'host the domain is on (default: this machine)')
  .action(async (domainId: string, opts: { to: string; from?: string }) => {
    const ref = id(domainId);
    const target = await host(opts.to);
    const source = await connectTo(opts.from);
    const report = await source.call('domain:migrate', { id: ref, to: target.url });
    await fleetHosts?.recordMove(ref, report.toHostId);
    printRelocation(report);
  });

program
  .command('drain <host>')
  .description('mark a host draining (it takes no new VMs) and move every running VM off it')
  .option('--to <host>', 'where to move them (default in a fleet: the host with most headroom)')
  .action(async (drained: string, opts: { to?: string }) => {
    const source = await host(drained);
    if (opts.to === undefined) fleetHosts ??= new FleetHosts(loadConfig().fleet);
    const target =
      opts.to === undefined ? await fleetHosts!.pickTarget(source) : await host(opts.to);
    await fleetHosts?.setDraining(source, true);
    const report = await (await connectTo(source.url)).call('host:drain', { to: target.url });
    for (const moved of report.moved) {
      await fleetHosts?.recordMove(moved.id, moved.toHostId);
      printRelocation(moved);
    }
    for (const failed of report.failed) console.log(`not moved ${failed.id}: ${failed.error}`);
    if (report.failed.length > 0) process.exitCode = 1;
  });

program
  .command('clone <id>')
  .description('copies of a running domain, each with a new id, identity and disk')
  .option('--count <N>', 'how many copies (1-16)', '1')
  .option('--to <host>', 'make them on another host (default: where the domain runs)')
  .option('--from <host>', 'host the domain is on (default: this machine)')
  .action(async (domainId: string, opts: { count: string; to?: string; from?: string }) => {
    const ref = id(domainId);
    const count = parseArg(cloneCountSchema, opts.count, 'count');
    const to = opts.to === undefined ? undefined : (await host(opts.to)).url;
    const started = performance.now();
    const clones = await (await connectTo(opts.from)).call('domain:clone', { id: ref, count, to });
    console.log(formatDomainTable(clones));
    console.error(`cloned in ${Math.round(performance.now() - started)} ms`);
  });

function disconnect(): void {
  client?.close();
  for (const peer of peers.values()) peer.close();
  void fleetHosts?.close();
}

try {
  await program.parseAsync(process.argv);
  disconnect();
} catch (error) {
  disconnect();
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  const message =
    error instanceof HypervisorError
      ? `error (${error.code}): ${error.message}`
      : `error: ${(error as Error).message}`;
  console.error(message);
  process.exit(error instanceof UsageError ? 2 : 1);
}
