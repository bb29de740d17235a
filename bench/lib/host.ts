/** A real host for benches: production defaults unless a figure overrides a setting. */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createHost, type DriverRegistry, type HostHooks } from '../../src/actors/host.ts';
import type { Host } from '../../src/actors/types.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Database } from '../../src/db/index.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { loadSecretKey, type SecretKey } from '../../src/secrets.ts';

export interface BenchHost {
  readonly host: Host;
  readonly fleet: SimBmcFleet;
  readonly config: Config;
}

export function benchSecretKey(): Promise<SecretKey> {
  return loadSecretKey({ secretKey: randomBytes(32).toString('hex'), dataDir: '' });
}

export async function benchHost(
  db: Kysely<Database>,
  options: { env?: Record<string, string>; drivers?: DriverRegistry; bootQueries?: boolean; secretKey?: SecretKey; hooks?: HostHooks } = {},
): Promise<BenchHost> {
  const config = loadConfig(options.env ?? {});
  const fleet = new SimBmcFleet({ historyPerNode: 0 });
  const host = createHost({
    db,
    config,
    secretKey: options.secretKey ?? (await benchSecretKey()),
    drivers: options.drivers ?? { sim: createSimDriver({ fleet }) as never },
    bootQueries: options.bootQueries ?? false,
    ...(options.hooks ? { hooks: options.hooks } : {}),
  });
  return { host, fleet, config };
}
