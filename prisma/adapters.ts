// Driver adapters for Prisma 6.19.3's JS schema engine and client (no engine downloads), with the
// three adapter bugs from shared/docs/prisma-offline.md worked around. Used by prisma.config.ts
// (CLI: migrate/generate) and by the portal at run time.
import { PrismaLibSQL } from '@prisma/adapter-libsql';
import { PrismaPg } from '@prisma/adapter-pg';
import { providerOf, sqlitePath } from './db-url.ts';

// The adapter interfaces are structural; keep these local and loose so this file type-checks
// without reaching into @prisma/driver-adapter-utils.
interface SqlQuery {
  sql: string;
  args: unknown[];
  argTypes: unknown[];
}
interface Adapter {
  executeRaw(q: SqlQuery): Promise<number>;
  executeScript(script: string): Promise<void>;
  dispose(): Promise<void>;
  startTransaction?(isolation?: string): Promise<unknown>;
}
interface AdapterFactory {
  connect(): Promise<Adapter>;
  connectToShadowDb(): Promise<Adapter>;
}

/** Bug 1: SQLite shadow replay runs each migration.sql through executeRaw (one statement only). */
function sqliteFactory(url: string): AdapterFactory {
  const factory = new PrismaLibSQL({ url: `file:${sqlitePath(url)}` }) as unknown as AdapterFactory;
  const original = factory.connectToShadowDb.bind(factory);
  factory.connectToShadowDb = async () => {
    const shadow = await original();
    const executeRaw = shadow.executeRaw.bind(shadow);
    shadow.executeRaw = async (q: SqlQuery) => {
      if (q.args.length === 0) {
        await shadow.executeScript(q.sql);
        return 0;
      }
      return executeRaw(q);
    };
    return shadow;
  };
  return factory;
}

const PG_NAME_OID = 19;
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

type PerformIO = (q: SqlQuery) => Promise<{ fields?: { dataTypeID: number }[] }>;

/** Bug 2 (prisma/prisma#27403): catalog columns of type name/"char" cannot be decoded. */
function patchCatalogTypes<T>(queryable: T): T {
  const target = queryable as unknown as {
    performIO?: PerformIO;
    startTransaction?: (...a: unknown[]) => Promise<unknown>;
  };
  if (typeof target.performIO === 'function') {
    const performIO = target.performIO.bind(target);
    target.performIO = async (q: SqlQuery) => {
      const result = await performIO(q);
      for (const field of result?.fields ?? []) {
        if (field.dataTypeID === PG_NAME_OID || field.dataTypeID === PG_CHAR_OID) {
          field.dataTypeID = PG_TEXT_OID;
        }
      }
      return result;
    };
  }
  if (typeof target.startTransaction === 'function') {
    const start = target.startTransaction.bind(target);
    target.startTransaction = async (...args: unknown[]) => patchCatalogTypes(await start(...args));
  }
  return queryable;
}

export function postgresFactory(
  url: string,
  options: { forMigrations?: boolean } = {},
): AdapterFactory {
  if (!options.forMigrations)
    return new PrismaPg({ connectionString: url }) as unknown as AdapterFactory;
  // The CLI does not always dispose its adapter: let idle pool clients go at once so the
  // process can exit (otherwise pg's 10 s idle timeout is added to every migrate command).
  const pool = { connectionString: url, idleTimeoutMillis: 200, allowExitOnIdle: true };
  const factory = new PrismaPg(pool) as unknown as AdapterFactory;
  const connect = factory.connect.bind(factory);
  factory.connect = async () => patchCatalogTypes(await connect());
  // Bug 3: the stock connectToShadowDb connects to the main database or drops the shadow
  // database while still connected to it. Create, connect by URL, and drop after closing.
  factory.connectToShadowDb = async () => {
    const admin = await connect();
    const database = `prisma_shadow_${globalThis.crypto.randomUUID().replaceAll('-', '')}`;
    await admin.executeScript(`CREATE DATABASE "${database}"`);
    const shadowUrl = new URL(url);
    shadowUrl.pathname = `/${database}`;
    const shadowFactory = new PrismaPg({
      connectionString: shadowUrl.toString(),
    }) as unknown as AdapterFactory;
    const shadow = patchCatalogTypes(await shadowFactory.connect());
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      try {
        await dispose();
      } finally {
        await admin.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
        await admin.dispose();
      }
    };
    return shadow;
  };
  return factory;
}

/** The adapter factory for a database URL, as the Prisma CLI (migrations) wants it. */
export function migrationAdapterFactory(url: string): AdapterFactory {
  return providerOf(url) === 'postgresql'
    ? postgresFactory(url, { forMigrations: true })
    : sqliteFactory(url);
}

/** The adapter factory the runtime client uses. */
export function runtimeAdapterFactory(url: string): unknown {
  return providerOf(url) === 'postgresql'
    ? new PrismaPg({ connectionString: url })
    : new PrismaLibSQL({ url: `file:${sqlitePath(url)}` });
}
