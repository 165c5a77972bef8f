// `npx tsx bench/idle-threads-cli.ts [vms] [seconds] [windows]`: what idle desktops cost a
// hypervisor daemon, thread by thread (bench/idle-threads.ts); JSON on stdout, progress on stderr.
import { Command } from 'commander';
import { z } from 'zod';
import { measureIdleThreads } from './idle-threads.ts';

const args = z.tuple([
  z.coerce.number().int().min(1).max(32).default(2),
  z.coerce.number().min(1).max(600).default(20),
  z.coerce.number().int().min(1).max(60).default(1),
]);
const program = new Command()
  .name('idle-threads')
  .description('CPU of idle desktop VMs per daemon thread: worker, main, V8 helpers')
  .argument('[vms]', 'desktop VMs to start', '2')
  .argument('[seconds]', 'length of each measuring window', '20')
  .argument('[windows]', 'consecutive windows without a viewer (the JIT warms up)', '1')
  .parse();
const parsed = args.safeParse(program.processedArgs);
if (!parsed.success) {
  console.error(parsed.error.issues.map((i) => i.message).join('\n'));
  process.exit(2);
}
const [vms, seconds, windows] = parsed.data;
const result = await measureIdleThreads({ vms, seconds, windows, log: (l) => console.error(l) });
console.log(JSON.stringify(result, null, 2));
process.exit(0);
