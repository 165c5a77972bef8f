// `npm run bench`: measures Raydesk through the real stack (hypervisor in this process, the real
// gateway, the real portal as a child process, headless Chromium with the real viewer). Options:
// --json FILE, --quick, --smoke, see bench/options.ts; scenarios in bench/run.ts; output in
// bench/report.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '@raydesk/viewer/testing';
import { REPO_ROOT } from '@raydesk/common/node';
import { parseOptions, planFor } from '../bench/options.ts';
import { html, table } from '../bench/report.ts';
import { runBench } from '../bench/run.ts';
import { runAttachBench } from '../bench/attach.ts';
import { runRecordingBench } from '../bench/recording.ts';
import { runCpuBench } from '../bench/cpu-only.ts';
import { runDensityBench } from '../bench/density-only.ts';
import { runDesktopIoBench } from '../bench/desktop-io.ts';
import { runDisplayBench } from '../bench/display.ts';
import { runFleetBench } from '../bench/fleet.ts';
import { prepareGuests } from '@raydesk/hypervisor/setup';
import { buildPortal } from './lib/portal.ts';

const options = parseOptions(process.argv.slice(2));
const plan = planFor(options);
const t0 = Date.now();
const log = (line: string) =>
  process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

// Guest images and golden snapshots first, with their progress bars, as `npm start` and
// `npm test` do: on a cold cache that is a kernel compile and three images, and untimed.
await prepareGuests();
// The portal is in the time-to-desktop path and fronts the fleet's gateway failover: its
// production build must match the sources.
if (!options.only || options.only === 'fleet' || options.only === 'attach') buildPortal();
async function runSelected() {
  switch (options.only) {
    case 'cpu':
      return runCpuBench(plan, options.memoryBudgetMiB, log);
    case 'display':
      return runDisplayBench(
        plan,
        {
          memoryBudgetMiB: options.memoryBudgetMiB,
          displayFps: options.displayFps,
          displayMaxFps: options.displayMaxFps,
          smallUpdateTiles: options.smallUpdateTiles,
          peers: options.peers,
        },
        log,
      );
    case 'fleet':
      return runFleetBench(plan, log);
    case 'density':
      return runDensityBench(plan, options.memoryBudgetMiB, log);
    case 'attach':
      return runAttachBench(plan, options.memoryBudgetMiB, log);
    case 'recording':
      return runRecordingBench(plan, options.memoryBudgetMiB, log);
    case 'desktop-io':
      return runDesktopIoBench(plan, options.memoryBudgetMiB, log);
    default:
      return runBench(plan, options.memoryBudgetMiB, log, { peers: options.peers });
  }
}
const out = await runSelected();

const jsonFile = options.json ? resolve(options.json) : null;
const htmlFile = options.html
  ? resolve(options.html)
  : jsonFile
    ? jsonFile.replace(/\.json$/i, '') + '.html'
    : join(REPO_ROOT, 'bench-results', `bench-${plan.mode}.html`);
if (jsonFile) {
  mkdirSync(dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, JSON.stringify(out.results, null, 2) + '\n');
}
mkdirSync(dirname(htmlFile), { recursive: true });
const page = html(out);
writeFileSync(htmlFile, page);
let pngFile: string | null = null;
if (options.png) {
  pngFile = htmlFile.replace(/\.html$/i, '') + '.png';
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const p = await browser.newPage({ viewport: { width: 1080, height: 600 } });
    await p.setContent(page);
    await p.screenshot({ path: pngFile, fullPage: true });
  } finally {
    await browser.close();
  }
}
if (!options.json) console.log(table(out));
else {
  console.log(JSON.stringify(out.results, null, 2));
  console.error(table(out));
}
log(
  `done in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${[jsonFile, htmlFile, pngFile].filter(Boolean).join(', ')}`,
);
process.exit(0);
