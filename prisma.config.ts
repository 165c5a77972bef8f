// Prisma CLI configuration (Prisma 6.19.3, offline): the JS schema engine with driver adapters,
// so no engine binary is ever downloaded. Picks the SQLite or PostgreSQL schema (each with its
// own migrations folder beside it) from DATABASE_URL; see prisma/db-url.ts.
import { defineConfig } from 'prisma/config';
import { migrationAdapterFactory } from '@raydesk/db/adapters';
import { loadRootEnv } from '@raydesk/common/node';
import { providerOf, resolveDatabaseUrl, schemaPathFor } from '@raydesk/db/url';

loadRootEnv();
const url = resolveDatabaseUrl();
// The schema's `url = env("DATABASE_URL")` must resolve, or Prisma falls back to downloading a
// query engine. The adapter is what actually connects.
process.env.DATABASE_URL = url;
const provider = providerOf(url);

export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: schemaPathFor(provider),
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  adapter: async () => migrationAdapterFactory(url) as any,
});
