// The shared services of a fleet on one machine (`npm run fleet`, the fleet tests): PostgreSQL
// (source of truth for hosts, VMs and placement) and Redis (the gateways' socket.io adapter),
// both on loopback with their data under `dir` (postgres/ and redis/).
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '@raydesk/db/cluster';
import { startRedis, type RunningRedis } from './redis-server.ts';

export interface FleetServices {
  databaseUrl: string;
  redisUrl: string;
  postgres: TestPostgres;
  redis: RunningRedis;
  stop(): Promise<void>;
}

export async function startFleetServices(options: {
  dir: string;
  postgresPort: number;
  redisPort: number;
  /** Keep the data on stop (npm run fleet); tests throw theirs away. */
  keep: boolean;
}): Promise<FleetServices> {
  const postgres = await startPostgres({
    dir: join(options.dir, 'postgres'),
    port: options.postgresPort,
    keep: options.keep,
  });
  let redis: RunningRedis;
  try {
    redis = await startRedis({
      dir: join(options.dir, 'redis'),
      port: options.redisPort,
      keep: options.keep,
    });
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  return {
    databaseUrl: postgres.url,
    redisUrl: redis.url,
    postgres,
    redis,
    async stop() {
      await redis.stop();
      await postgres.stop();
    },
  };
}
