// Command line of `npm run bench`: parsed with commander, validated with zod, expanded into
// per-figure sample counts for the chosen mode (smoke, quick or full).
import { Command } from 'commander';
import { z } from 'zod';
import type { CpuPlan } from './cpu.ts';

export const optionsSchema = z.object({
  json: z.string().min(1).optional(),
  html: z.string().min(1).optional(),
  quick: z.boolean().default(false),
  smoke: z.boolean().default(false),
  png: z.boolean().default(true),
  densityCap: z.coerce.number().int().min(1).max(64).optional(),
  /** Wall-clock limit of the density ramp, minutes. */
  densityMinutes: z.coerce.number().min(1).max(120).optional(),
  memoryBudgetMiB: z.coerce.number().int().min(512).max(65536).default(6144),
  /**
   * Run only these figures. cpu: busy neighbours with and without the scheduler, idle CPU.
   * display: input-to-paint, bandwidth, window-drag frame rate and reconnect on one desktop VM.
   * fleet: relocation and cloning between two hosts, gateway failover in a whole fleet.
   * density: desktops per host within a 150 ms input p95, with active and with idle neighbours.
   * attach: time to desktop and reconnect, through the portal.
   * recording: session recording size per hour, per-frame cost on and off, seek time.
   * desktop-io: clipboard both ways, upload and download throughput, resize to paint.
   */
  only: z
    .enum(['cpu', 'display', 'fleet', 'density', 'attach', 'recording', 'desktop-io'])
    .optional(),
  /** Measure the noVNC peer on the same VM (needs x11vnc in the desktop image). */
  peers: z.boolean().default(true),
  /** The hypervisor's display frame clock for the run (DISPLAY_FPS). */
  displayFps: z.coerce.number().int().min(1).max(60).optional(),
  /** Frames as soon as the guest drew, at most this many a second (DISPLAY_MAX_FPS); 0 = off. */
  displayMaxFps: z.coerce.number().int().min(0).max(120).optional(),
  /** The gateway sends updates this small at once (GATEWAY_SMALL_UPDATE_TILES); 0 = off. */
  smallUpdateTiles: z.coerce.number().int().min(0).max(1024).optional(),
});
export type BenchOptions = z.infer<typeof optionsSchema>;

export type Mode = 'smoke' | 'quick' | 'full';

/** How many samples (or seconds) each figure gets in each mode. */
export interface Plan {
  mode: Mode;
  timeToDesktop: number;
  resume: number;
  reconnect: number;
  input: number;
  densityInput: number;
  densityCap: number;
  /** The density ramp stops (keeping what it measured) after this many minutes. */
  densityMinutes: number;
  eightVms: number;
  bandwidthSeconds: number;
  mipsSeconds: number;
  /** Busy-neighbour counts with the scheduler on and off, and the idle CPU window. */
  cpu: CpuPlan;
}

export function planFor(options: BenchOptions): Plan {
  if (options.smoke) {
    return {
      mode: 'smoke',
      timeToDesktop: 1,
      resume: 0,
      reconnect: 0,
      input: 5,
      densityInput: 0,
      densityCap: 0,
      densityMinutes: 1,
      eightVms: 0,
      bandwidthSeconds: 0,
      mipsSeconds: 0,
      cpu: { neighbourCounts: [], input: 0, idleSeconds: 0, idleAppliances: [] },
    };
  }
  if (options.quick) {
    // At most 5 minutes on this machine: fewer samples, no eight-VM or 3-VM density steps.
    return {
      mode: 'quick',
      timeToDesktop: 2,
      resume: 1,
      reconnect: 3,
      input: 20,
      densityInput: 10,
      densityCap: options.densityCap ?? 2,
      densityMinutes: options.densityMinutes ?? 3,
      eightVms: 0,
      bandwidthSeconds: 3,
      mipsSeconds: 3,
      cpu: {
        neighbourCounts: [1],
        input: 10,
        idleSeconds: 5,
        idleAppliances: ['desktop'],
      },
    };
  }
  return {
    mode: 'full',
    timeToDesktop: 10,
    resume: 10,
    reconnect: 30,
    input: 40,
    densityInput: 20,
    densityCap: options.densityCap ?? 32,
    densityMinutes: options.densityMinutes ?? 25,
    eightVms: 8,
    bandwidthSeconds: 8,
    mipsSeconds: 10,
    cpu: {
      neighbourCounts: [1, 3],
      input: 30,
      idleSeconds: 15,
      idleAppliances: ['console', 'desktop', 'browser'],
    },
  };
}

export function parseOptions(argv: string[]): BenchOptions {
  const program = new Command()
    .name('npm run bench --')
    .description('Raydesk benchmark: real hypervisor, real gateway, real headless Chromium')
    .option('--json <file>', 'write the results as JSON to FILE (the chart goes next to it)')
    .option(
      '--html <file>',
      'where to write the HTML chart (default: next to --json, or bench-results/)',
    )
    .option('--quick', 'reduced run, at most 5 minutes', false)
    .option('--smoke', '1-iteration run of a few cheap figures (used by npm test)', false)
    .option('--no-png', 'do not render the chart to PNG')
    .option(
      '--density-cap <n>',
      'most desktop VMs for the density ramp (default 32, 2 with --quick)',
    )
    .option(
      '--density-minutes <n>',
      'time limit of the density ramp; it reports what it reached (default 25, 3 with --quick)',
    )
    .option('--memory-budget-mib <n>', 'hypervisor memory budget for the run', '6144')
    .option(
      '--only <figures>',
      'run only these figures: cpu (busy neighbours, idle CPU), display (input-to-paint, ' +
        'bandwidth, window-drag frame rate and reconnect on one desktop VM), fleet ' +
        '(relocation, cloning, gateway failover), density (desktops per host within a 150 ms ' +
        'input p95, neighbours typing and idle), attach (time to desktop and reconnect ' +
        'through the portal), recording (recording size per hour, per-frame cost, seek time) ' +
        'or desktop-io (clipboard both ways, upload and download throughput, window resize ' +
        'to the new desktop size painted)',
    )
    .option('--no-peers', 'do not measure the noVNC peer (x11vnc in the same desktop VM)')
    .option('--display-fps <n>', "the hypervisor's display frame clock (default: DISPLAY_FPS)")
    .option(
      '--display-max-fps <n>',
      'frames as soon as the guest drew, at most n a second; 0: only the clock (default: DISPLAY_MAX_FPS)',
    )
    .option(
      '--small-update-tiles <n>',
      'the gateway sends updates of at most n tiles at once; 0: all wait (default: 16)',
    )
    .exitOverride((error) => {
      if (error.exitCode === 0) process.exit(0);
      process.exit(2);
    })
    .parse(argv, { from: 'user' });
  const parsed = optionsSchema.safeParse(program.opts());
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      console.error(`bench: ${issue.path.join('.')}: ${issue.message}`);
    process.exit(2);
  }
  if (parsed.data.quick && parsed.data.smoke) {
    console.error('bench: --quick and --smoke are exclusive');
    process.exit(2);
  }
  return parsed.data;
}
