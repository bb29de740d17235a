/**
 * `npm start`: loads config, builds the service (src/switchboard.ts), starts the actor host, serves
 * the API and UI. `--demo N` (or SWITCHBOARD_DEMO_NODES) seeds N simulated nodes and opens read
 * access from localhost. On the first run it creates an admin token and prints it once.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { countActiveAdmins, createToken, generateToken, type DatabaseHandle } from './db/index.ts';
import { seedDemo } from './demo.ts';
import { createSwitchboard } from './switchboard.ts';

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
  const openReadOnLocalhost = demo > 0;
  const service = await createSwitchboard({ config, app: { logger: { level: config.logLevel }, auth: { openReadOnLocalhost } } });
  const app = service.app!;
  app.log.info({ database: service.database.location, backend: service.database.backend, secretKey: service.secretKey.source }, 'database ready');
  await service.start();
  await ensureFirstAdminToken(service.database, config.port);
  if (openReadOnLocalhost) {
    app.log.warn('demo mode: read access WITHOUT a token is open to clients on 127.0.0.1 / ::1 (writes still need a token)');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    await service.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ host: config.host, port: config.port });
  if (demo > 0) {
    const seeded = await seedDemo(service.host, demo);
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
