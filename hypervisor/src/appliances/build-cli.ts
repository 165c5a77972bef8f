// Builds appliance images: tsx hypervisor/src/appliances/build-cli.ts [console|desktop|browser|all] [--force]
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { APPLIANCE_NAMES, type ApplianceName } from '../api/protocol.ts';
import { BUILD_STEPS, type BuildProgress } from './build.ts';
import { applianceCacheDir, ensureAppliance } from './index.ts';

const argsSchema = z.object({
  target: z.enum([...APPLIANCE_NAMES, 'all']),
  force: z.boolean(),
});

const fmtSize = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;

async function main() {
  const program = new Command()
    .name('build-images')
    .description(`Build Raydesk appliance images into ${applianceCacheDir()}`)
    .argument('[appliance]', `${APPLIANCE_NAMES.join(' | ')} | all`, 'all')
    .option('-f, --force', 'rebuild even when the cache is current', false)
    .parse();
  const parsed = argsSchema.safeParse({
    target: program.args[0] ?? 'all',
    force: Boolean(program.opts().force),
  });
  if (!parsed.success) {
    console.error(`invalid arguments: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    process.exit(2);
  }
  const { target, force } = parsed.data;
  const names: ApplianceName[] = target === 'all' ? [...APPLIANCE_NAMES] : [target];
  const tty = Boolean(process.stderr.isTTY);
  const multibar = tty
    ? new cliProgress.MultiBar(
        {
          format: ' {name} [{bar}] {value}/{total} {step} {elapsed}s',
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;

  let failed = false;
  for (const name of names) {
    const bar = multibar?.create(BUILD_STEPS.length, 0, {
      name: name.padEnd(7),
      step: 'cache check',
      elapsed: '0',
    });
    let timer: NodeJS.Timeout | undefined;
    let last: BuildProgress | undefined;
    const t0 = Date.now();
    if (bar)
      timer = setInterval(
        () => bar.update({ elapsed: ((Date.now() - t0) / 1000).toFixed(0) }),
        1000,
      );
    const onProgress = (p: BuildProgress) => {
      last = p;
      const secs = (p.elapsedMs / 1000).toFixed(1);
      if (bar) {
        bar.update(p.phase === 'end' ? p.index + 1 : p.index, {
          step:
            p.phase === 'start'
              ? `${p.step}…`
              : `${p.step} done${p.detail ? ` (${p.detail})` : ''}`,
        });
      } else if (p.phase === 'end') {
        console.log(
          `[${name}] ${p.step} done in ${((p.stepMs ?? 0) / 1000).toFixed(1)}s${p.detail ? ` (${p.detail})` : ''} (total ${secs}s)`,
        );
      } else {
        console.log(`[${name}] ${p.step}${p.detail ? ` (${p.detail})` : ''}…`);
      }
    };
    try {
      const img = await ensureAppliance(name, { force, onProgress });
      if (timer) clearInterval(timer);
      bar?.update(BUILD_STEPS.length, { step: last ? 'built' : 'cached' });
      const f = img.manifest.files;
      const line = `[${name}] ${last ? `built in ${img.manifest.buildSeconds}s` : 'up to date'}: ${img.dir} (kernel ${fmtSize(f.vmlinuz)}, initrd ${fmtSize(f['initrd.img'])}, rootfs ${fmtSize(f['rootfs.ext4'])})`;
      if (multibar) multibar.log(line + '\n');
      else console.log(line);
    } catch (err) {
      if (timer) clearInterval(timer);
      failed = true;
      bar?.update({ step: 'FAILED' });
      const msg = `[${name}] build failed: ${err instanceof Error ? err.message : String(err)}`;
      if (multibar) multibar.log(msg + '\n');
      else console.error(msg);
    }
  }
  multibar?.stop();
  process.exit(failed ? 1 : 0);
}

void main();
