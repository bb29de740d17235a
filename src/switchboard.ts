/**
 * The composition root: the one place that wires the service — database, secret key, drivers,
 * metrics, actor host and HTTP app — for the server, the CLI's `serve`, the tests, the crash
 * tests' child processes and the bench. Each caller passes only what it does differently (an
 * open database, its own drivers, a fault-injecting commit, no HTTP app…).
 */
import type { FastifyInstance } from 'fastify';
import { createHost, type DriverRegistry, type HostDeps, type HostLogger } from './actors/host.ts';
import type { Host } from './actors/types.ts';
import { ConfigError, type Config } from './config.ts';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.ts';
import { createDriverRegistry } from './drivers/registry.ts';
import { SimBmcFleet } from './drivers/sim/index.ts';
import { buildApp, type AppDeps } from './http/app.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { assertSecretKeyMatchesData } from './secret-key-check.ts';
import { loadSecretKey, SECRET_KEY_VARIABLE, type SecretKey } from './secrets.ts';

export interface SwitchboardOptions {
  config: Config;
  /** An open, migrated database to use (and leave open at close); else the configured one is opened. */
  database?: DatabaseHandle;
  /** Else loaded as the config says (SWITCHBOARD_SECRET_KEY or the key file in the data dir). */
  secretKey?: SecretKey;
  /** The drivers; else every driver, with the sim driver on `simFleet`. */
  drivers?: DriverRegistry;
  /** The in-process simulated BMCs the default sim driver speaks to. */
  simFleet?: SimBmcFleet;
  /** Host settings a caller changes (tests: scheduler, commit, boot queries, clock). */
  host?: Partial<Pick<HostDeps, 'scheduler' | 'commit' | 'bootQueries' | 'clock' | 'logger' | 'hooks' | 'snapshotMigrations'>>;
  /** The HTTP app's options, or false for a service without HTTP (bench, crash children). */
  app?: Partial<Omit<AppDeps, 'host' | 'db' | 'config' | 'metrics'>> | false;
  metrics?: Metrics;
}

export interface Switchboard {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly secretKey: SecretKey;
  readonly host: Host;
  /** Null when built with `app: false`. */
  readonly app: FastifyInstance | null;
  readonly metrics: Metrics;
  readonly simFleet: SimBmcFleet;
  /** Restores the fleet and starts commands and timers. */
  start(): Promise<void>;
  /** Stops the app, the host and the drivers, then closes the database if it opened it. */
  close(): Promise<void>;
}

async function openConfiguredDatabase(config: Config): Promise<DatabaseHandle> {
  if (config.databaseUrl !== undefined && config.secretKey === undefined) {
    // A key file is per machine; instances sharing one PostgreSQL must share one key.
    throw new ConfigError(
      SECRET_KEY_VARIABLE,
      'must be set when DATABASE_URL is set: every instance using the database needs the same key to read ' +
        'driver secrets. Generate one once (`openssl rand -hex 32`) and give it to every instance.',
    );
  }
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrateToLatest(handle.db);
  return handle;
}

export async function createSwitchboard(options: SwitchboardOptions): Promise<Switchboard> {
  const { config } = options;
  const database = options.database ?? (await openConfiguredDatabase(config));
  const ownsDatabase = options.database === undefined;
  const secretKey = options.secretKey ?? (await loadSecretKey({ secretKey: config.secretKey, dataDir: config.dataDir }));
  await assertSecretKeyMatchesData(database.db, secretKey);
  const simFleet = options.simFleet ?? new SimBmcFleet();
  const registry = options.drivers
    ? null
    : createDriverRegistry({ sim: { fleet: simFleet }, ipmi: { childEnv: config.driverChildEnv }, virsh: { childEnv: config.driverChildEnv } });
  const metrics = options.metrics ?? createMetrics();
  // The host logs through the app's logger, which exists only once the app is built.
  const ref: { app?: FastifyInstance } = {};
  const appLog: HostLogger = {
    info: (obj, msg) => ref.app?.log.info(obj, msg),
    warn: (obj, msg) => ref.app?.log.warn(obj, msg),
    error: (obj, msg) => ref.app?.log.error(obj, msg),
  };
  const host = createHost({
    db: database.db,
    drivers: options.drivers ?? registry!.drivers,
    config,
    secretKey,
    logger: options.app === false ? undefined : appLog,
    hooks: metrics.hostHooks(),
    ...options.host,
  });
  const app = options.app === false ? null : await buildApp({ ...options.app, host, db: database.db, config, metrics });
  if (app) ref.app = app;
  let closed = false;
  return {
    config,
    database,
    secretKey,
    host,
    app,
    metrics,
    simFleet,
    start: () => host.start(),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await app?.close();
        await host.stop();
        await registry?.close();
      } finally {
        if (ownsDatabase) await database.close();
      }
    },
  };
}
