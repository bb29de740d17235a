/** A real host for benches, wired by the service's composition root: production defaults unless a figure overrides a setting. */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { DriverRegistry, HostHooks } from '../../src/actors/host.ts';
import type { Host } from '../../src/actors/types.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { DatabaseHandle } from '../../src/db/index.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { createMetrics, type Metrics } from '../../src/http/metrics.ts';
import { loadSecretKey, type SecretKey } from '../../src/secrets.ts';
import { createSwitchboard, type SwitchboardOptions } from '../../src/switchboard.ts';

export interface BenchHost {
  readonly host: Host;
  readonly fleet: SimBmcFleet;
  readonly config: Config;
  /** Null unless the figure asked for the HTTP app. */
  readonly app: FastifyInstance | null;
}

export function benchSecretKey(): Promise<SecretKey> {
  return loadSecretKey({ secretKey: randomBytes(32).toString('hex'), dataDir: '' });
}

export async function benchHost(
  database: DatabaseHandle,
  options: {
    env?: Record<string, string>;
    drivers?: DriverRegistry;
    bootQueries?: boolean;
    secretKey?: SecretKey;
    metrics?: Metrics;
    /** Replaces the metrics' hooks (a figure that counts commands itself). */
    hooks?: HostHooks;
    /** The HTTP app's options, for a figure that serves requests; default: no app. */
    app?: SwitchboardOptions['app'];
  } = {},
): Promise<BenchHost> {
  const config = loadConfig(options.env ?? {});
  const fleet = new SimBmcFleet({ historyPerNode: 0 });
  const service = await createSwitchboard({
    config,
    database,
    secretKey: options.secretKey ?? (await benchSecretKey()),
    drivers: options.drivers ?? { sim: createSimDriver({ fleet }) as never },
    simFleet: fleet,
    host: { bootQueries: options.bootQueries ?? false, ...(options.hooks ? { hooks: options.hooks } : {}) },
    ...(options.metrics ? { metrics: options.metrics } : { metrics: createMetrics({ defaultMetrics: false }) }),
    app: options.app ?? false,
  });
  return { host: service.host, fleet, config, app: service.app };
}
