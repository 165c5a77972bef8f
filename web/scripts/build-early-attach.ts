// Builds the early-attach page script (@raydesk/viewer/early-attach-script) into
// web/public/early-attach.js: the viewer pages load it ahead of the portal's own scripts, so the
// page joins the gateway while Next loads and hydrates (see web/viewer/src/early-attach.ts).
// Run before `next build` (npm run build -w web, and scripts/lib/portal.ts).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const EARLY_ATTACH_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'public',
  'early-attach.js',
);

export async function buildEarlyAttach(): Promise<void> {
  mkdirSync(dirname(EARLY_ATTACH_FILE), { recursive: true });
  await build({
    entryPoints: [fileURLToPath(import.meta.resolve('@raydesk/viewer/early-attach-script'))],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    minify: true,
    legalComments: 'none',
    outfile: EARLY_ATTACH_FILE,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildEarlyAttach();
