// Generates prisma/postgres/schema.prisma from prisma/schema.prisma (the source), so SQLite and
// PostgreSQL share one model. `npx tsx prisma/sync-schema.ts` writes it; `--check` exits 1 when the
// committed file is out of step (prisma/sync-schema.test.ts runs that check).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '@raydesk/common/node';

export const SOURCE = join(REPO_ROOT, 'prisma', 'schema.prisma');
export const TARGET = join(REPO_ROOT, 'prisma', 'postgres', 'schema.prisma');

const HEADER =
  '// GENERATED from prisma/schema.prisma by prisma/sync-schema.ts. Do not edit; edit the source\n' +
  '// and run `npx tsx prisma/sync-schema.ts`.\n';

export function toPostgres(source: string): string {
  let out = source;
  const replace = (from: RegExp, to: string) => {
    if (!from.test(out)) throw new Error(`sync-schema: pattern ${from} not found in the source`);
    out = out.replace(from, to);
  };
  replace(/provider\s*=\s*"sqlite"/, 'provider = "postgresql"');
  replace(/output\s*=\s*"\.\/generated\/sqlite"/, 'output       = "../generated/postgres"');
  // Drop the source's leading comment block: the generated file gets its own header.
  out = out.replace(/^(\/\/[^\n]*\n)+\n?/, '');
  return HEADER + '\n' + out;
}

export function expectedPostgresSchema(): string {
  return toPostgres(readFileSync(SOURCE, 'utf8'));
}

export function isInStep(): boolean {
  return readFileSync(TARGET, 'utf8') === expectedPostgresSchema();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    if (!isInStep()) {
      console.error(
        'prisma/postgres/schema.prisma is out of step: run npx tsx prisma/sync-schema.ts',
      );
      process.exit(1);
    }
    console.log('schemas in step');
  } else {
    writeFileSync(TARGET, expectedPostgresSchema());
    console.log(`wrote ${TARGET}`);
  }
}
