/**
 * `npm start`: loads config, opens and migrates the database, starts the actor host, serves the
 * API and UI. `--demo N` (or SWITCHBOARD_DEMO_NODES) seeds N simulated nodes and opens read
 * access from localhost. On the first run it creates an admin token and prints it once.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createHost } from './actors/host.ts';
import type { Host } from './actors/types.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { countActiveAdmins, createToken, generateToken, migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.ts';
import { seedDemo } from './demo.ts';
import { createDriverRegistry } from './drivers/registry.ts';
import { SimBmcFleet } from './drivers/sim/index.ts';
import { buildApp } from './http/app.ts';
import { createMetrics } from './http/metrics.ts';
import { SECRET_KEY_VARIABLE, loadSecretKey } from './secrets.ts';
import { assertSecretKeyMatchesData } from './secret-key-check.ts';

/** `--demo N` from the command line, else the configured number. */
function demoNodes(argv: readonly string[], config: Config): number {
  const at = argv.indexOf('--demo');
  if (at === -1) return config.demoNodes;
  const raw = argv[at + 1];
  if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) > 100_000) {
    throw new ConfigError('--demo', `expected a number of nodes from 0 to 100000, got "${raw ?? ''}"`);
  }
  return Number(raw);
}

/** On the first run there is no admin token: make one and show it, once. */
async function ensureFirstAdminToken(handle: DatabaseHandle, port: number): Promise<void> {
  if ((await countActiveAdmins(handle.db)) > 0) return;
  const token = generateToken();
  await createToken(handle.db, { id: randomUUID(), name: 'first-admin', role: 'admin', token });
  process.stdout.write(
    `\nFirst start: created an admin API token. It is shown only this once — store it now:\n\n    ${token}\n\n` +
      `Use it as "Authorization: Bearer <token>". Make more tokens (viewer, operator, admin) with\n` +
      `    curl -X POST -H "Authorization: Bearer <token>" -H "Content-Type: application/json" \\\n` +
      `         -d '{"name":"ops-team","role":"operator"}' http://127.0.0.1:${port}/api/v1/tokens\n\n`,
  );
}

async function main(): Promise<void> {
  const config = loadConfig();
  const demo = demoNodes(process.argv.slice(2), config);
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
  const secretKey = await loadSecretKey({ secretKey: config.secretKey, dataDir: config.dataDir });
  await assertSecretKeyMatchesData(handle.db, secretKey);

  // ---- Integration point: drivers and the actor host. ----
  const simFleet = new SimBmcFleet();
  const drivers = createDriverRegistry({
    sim: { fleet: simFleet },
    ipmi: { childEnv: config.driverChildEnv },
    virsh: { childEnv: config.driverChildEnv },
  });
  const metrics = createMetrics();
  // The host logs through the app's logger, which exists only once the app is built.
  const ref: { app?: FastifyInstance } = {};
  const hostLog = {
    info: (obj: object, msg?: string) => ref.app?.log.info(obj, msg),
    warn: (obj: object, msg?: string) => ref.app?.log.warn(obj, msg),
    error: (obj: object, msg?: string) => ref.app?.log.error(obj, msg),
  };
  const host: Host = createHost({
    db: handle.db,
    drivers: drivers.drivers,
    config,
    secretKey,
    logger: hostLog,
    hooks: metrics.hostHooks(),
  });

  const openReadOnLocalhost = demo > 0;
  const app = await buildApp({ host, db: handle.db, config, metrics, logger: { level: config.logLevel }, auth: { openReadOnLocalhost } });
  ref.app = app;
  app.log.info({ database: handle.location, backend: handle.backend, secretKey: secretKey.source }, 'database ready');
  await host.start();
  await ensureFirstAdminToken(handle, config.port);
  if (openReadOnLocalhost) {
    app.log.warn('demo mode: read access WITHOUT a token is open to clients on 127.0.0.1 / ::1 (writes still need a token)');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    try {
      await app.close();
      await host.stop();
      await drivers.close();
    } finally {
      await handle.close();
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ host: config.host, port: config.port });
  if (demo > 0) {
    // ---- Integration point: demo seeding. ----
    const seeded = await seedDemo(host, demo);
    app.log.info(seeded, `demo fleet: ${demo} simulated nodes`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`switchboard: configuration error: ${err.message}\n`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`switchboard: could not start: ${message}\n`);
  }
  process.exit(1);
});
