// Builds the appliance images and golden snapshots a run needs, with a progress bar per item
// on a terminal and one line per step otherwise (CI logs). Both are cached, so a warm cache
// makes this a few file checks.
import cliProgress from 'cli-progress';
import pino from 'pino';
import { APPLIANCE_NAMES, type ApplianceName } from '../api/protocol.ts';
import {
  BUILD_STEPS,
  ensureAppliance,
  pruneStaleAppliances,
  type BuildProgress,
} from '../appliances/index.ts';
import { loadConfig } from '../config.ts';
import { GoldenBuildDomains } from '../host/golden-domains.ts';
import { GoldenSnapshots, type GoldenProgress } from '../snapshots/golden.ts';
import { GoldenStore } from '../snapshots/golden-store.ts';

const GOLDEN_PHASES = ['boot', 'settle', 'save', 'done'] as const;
const LOG_EVERY_MS = 15_000;

export interface PrepareGuestsOptions {
  /** Default: every appliance. */
  appliances?: readonly ApplianceName[];
  /** Appliances whose golden snapshot must exist too. Default: every appliance. */
  golden?: readonly ApplianceName[];
  /** Rebuild images even if cached. */
  force?: boolean;
}

/** One progress row per task; plain log lines when stderr is not a terminal. */
export class ProgressReporter {
  private readonly multibar: cliProgress.MultiBar | null;
  private readonly started = Date.now();

  constructor(tty = Boolean(process.stderr.isTTY)) {
    this.multibar = tty
      ? new cliProgress.MultiBar(
          {
            format: ' {task} [{bar}] {value}/{total} {status} {elapsed}s',
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  }

  task(
    name: string,
    total: number,
  ): { update(done: number, status: string): void; log(line: string): void } {
    const t0 = Date.now();
    const bar = this.multibar?.create(total, 0, {
      task: name.padEnd(16),
      status: 'checking cache',
      elapsed: '0',
    });
    // A log gets every result and step start, and at most one line per LOG_EVERY_MS while a
    // long step reports progress ("…" lines).
    let logged = { step: '', done: -1, at: 0 };
    return {
      update: (done, status) => {
        const now = Date.now();
        const elapsed = ((now - t0) / 1000).toFixed(0);
        const step = status.split(' ')[0] ?? '';
        if (bar) bar.update(done, { status, elapsed });
        else if (
          !status.endsWith('…') ||
          step !== logged.step ||
          done !== logged.done ||
          now - logged.at >= LOG_EVERY_MS
        ) {
          logged = { step, done, at: now };
          process.stderr.write(`[${name}] ${status} (${elapsed}s)\n`);
        }
      },
      log: (line) => {
        if (this.multibar) this.multibar.log(`${line}\n`);
        else process.stderr.write(`${line}\n`);
      },
    };
  }

  stop(): void {
    this.multibar?.stop();
    process.stderr.write(`guests ready in ${((Date.now() - this.started) / 1000).toFixed(1)}s\n`);
  }
}

export function buildProgressStatus(p: BuildProgress): { done: number; status: string } {
  return {
    done: p.phase === 'end' ? p.index + 1 : p.index,
    status:
      p.phase === 'start'
        ? `${p.step}${p.detail ? ` (${p.detail})` : ''}…`
        : `${p.step} done in ${((p.stepMs ?? 0) / 1000).toFixed(1)}s`,
  };
}

export async function prepareGuests(options: PrepareGuestsOptions = {}): Promise<void> {
  const { appliances = APPLIANCE_NAMES, golden: withGolden = APPLIANCE_NAMES } = options;
  const reporter = new ProgressReporter();
  try {
    for (const name of appliances) {
      const task = reporter.task(`image ${name}`, BUILD_STEPS.length);
      let built = false;
      const image = await ensureAppliance(name, {
        force: options.force,
        onWait: () => task.update(0, 'another process is building it; waiting for it'),
        onProgress: (p) => {
          built = true;
          const { done, status } = buildProgressStatus(p);
          task.update(done, status);
        },
      });
      task.update(
        BUILD_STEPS.length,
        built ? `built in ${image.manifest.buildSeconds}s` : 'cached',
      );
    }
    const removed = pruneStaleAppliances();
    if (removed.length > 0) process.stderr.write(`removed stale images: ${removed.join(', ')}\n`);
    if (withGolden.length === 0) return;
    const config = loadConfig();
    const log = pino({ level: 'warn' });
    const domains = new GoldenBuildDomains(config, log);
    const store = GoldenStore.inCache(config.cacheDir, (appliance) => domains.image(appliance));
    const golden = new GoldenSnapshots(store, domains, log);
    try {
      for (const name of withGolden) {
        const task = reporter.task(`snapshot ${name}`, GOLDEN_PHASES.length);
        const onProgress: GoldenProgress = (phase, detail) =>
          task.update(GOLDEN_PHASES.indexOf(phase) + (phase === 'done' ? 1 : 0), detail);
        const manifest = await golden.ensure(name, onProgress);
        task.update(
          GOLDEN_PHASES.length,
          `${(manifest.fileBytes / 2 ** 20).toFixed(1)} MiB, cold boot ${(manifest.coldBootMs / 1000).toFixed(0)}s`,
        );
      }
    } finally {
      await domains.close();
    }
  } finally {
    reporter.stop();
  }
}
