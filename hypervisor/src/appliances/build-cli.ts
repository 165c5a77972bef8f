// Builds appliance images: tsx hypervisor/src/appliances/build-cli.ts [console|desktop|browser|all] [--force]
import { Command } from 'commander';
import { z } from 'zod';
import { APPLIANCE_NAMES, type ApplianceName } from '../api/protocol.ts';
import { prepareGuests } from '../setup/prepare-guests.ts';
import { applianceCacheDir } from './index.ts';

const argsSchema = z.object({
  target: z.enum([...APPLIANCE_NAMES, 'all']),
  force: z.boolean(),
});

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
const appliances: ApplianceName[] = target === 'all' ? [...APPLIANCE_NAMES] : [target];
try {
  await prepareGuests({ appliances, golden: [], force });
} catch (error) {
  console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
