/**
 * An HTTP test stack on the real host: in-memory PGlite (migrated), the sim driver on an
 * in-process SimBmcFleet, the manual driver, wired by createSwitchboard; plus one token per role.
 *
 *   const t = await startHttpStack();
 *   const res = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: t.auth('viewer') });
 *   await t.close();
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { DriverRegistry } from '../../src/actors/host.ts';
import type { Host, NodeView } from '../../src/actors/types.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createToken, generateToken, migrateToLatest, openDatabase, type DatabaseHandle, type TokenRole } from '../../src/db/index.ts';
import { createManualDriver } from '../../src/drivers/manual.ts';
import { createRedfishDriver } from '../../src/drivers/redfish.ts';
import { createWebhookDriver } from '../../src/drivers/webhook.ts';
import { SimBmcFleet, createSimDriver } from '../../src/drivers/sim/index.ts';
import type { AppDeps } from '../../src/http/app.ts';
import { createMetrics, type Metrics } from '../../src/http/metrics.ts';
import { loadSecretKey } from '../../src/secrets.ts';
import { createSwitchboard, type SwitchboardOptions } from '../../src/switchboard.ts';

export interface HttpStack {
  app: FastifyInstance;
  host: Host;
  handle: DatabaseHandle;
  fleet: SimBmcFleet;
  metrics: Metrics;
  config: Config;
  tokens: Record<TokenRole, string>;
  /** Authorization header for a role's token. */
  auth(role: TokenRole): { authorization: string };
  /** Creates a sim node through the host (not the API). */
  simNode(name: string, params?: Record<string, unknown>): Promise<NodeView>;
  /** Row counts of every table: what a refused request must leave alone. */
  rowCounts(): Promise<Record<string, number>>;
  /** Waits until no node has an op in flight or pending and the row counts stop moving. */
  quiet(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export interface HttpStackOptions {
  env?: Record<string, string>;
  auth?: AppDeps['auth'];
  stream?: AppDeps['stream'];
  uiRoot?: string;
  /** Collects the app's log lines (level debug) when given. */
  logLines?: string[];
  /** Replaces the default drivers (sim on `fleet`, manual, redfish, webhook). */
  drivers?: DriverRegistry;
}

const TEST_KEY = 'a'.repeat(64);

export async function startHttpStack(options: HttpStackOptions = {}): Promise<HttpStack> {
  const config = loadConfig({ SWITCHBOARD_SYNC_INTERVAL_MS: '0', SWITCHBOARD_VERIFY_POLL_MS: '10', SWITCHBOARD_COMMIT_WINDOW_MS: '1', ...options.env });
  const handle = await openDatabase({ dataDir: '', pglite: 'memory' });
  await migrateToLatest(handle.db);
  const fleet = new SimBmcFleet();
  const metrics = createMetrics({ defaultMetrics: false });
  const appOptions: NonNullable<SwitchboardOptions['app']> = { uiRoot: options.uiRoot ?? '/nonexistent-switchboard-ui' };
  if (options.auth !== undefined) appOptions.auth = options.auth;
  if (options.stream !== undefined) appOptions.stream = options.stream;
  const lines = options.logLines;
  if (lines !== undefined) appOptions.logger = { level: 'debug', stream: { write: (line: string) => void lines.push(line) } };
  const service = await createSwitchboard({
    config,
    database: handle,
    secretKey: await loadSecretKey({ secretKey: TEST_KEY, dataDir: '' }),
    drivers: options.drivers ?? {
      sim: createSimDriver({ fleet }),
      manual: createManualDriver(),
      redfish: createRedfishDriver({ requestTimeoutMs: 500 }),
      webhook: createWebhookDriver(),
    },
    simFleet: fleet,
    metrics,
    app: appOptions,
  });
  const { host } = service;
  const app = service.app!;
  await service.start();
  await app.ready();

  const tokens = {} as Record<TokenRole, string>;
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    tokens[role] = generateToken();
    await createToken(handle.db, { id: randomUUID(), name: `test-${role}`, role, token: tokens[role] });
  }

  let closed = false;
  const rowCounts = async () => {
    const out: Record<string, number> = {};
    for (const table of ['nodes', 'node_snapshots', 'power_ops', 'node_events', 'api_tokens']) {
      const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(handle.db);
      out[table] = Number(r.rows[0]?.n ?? 0);
    }
    return out;
  };
  return {
    app,
    host,
    handle,
    fleet,
    metrics,
    config,
    tokens,
    auth: (role) => ({ authorization: `Bearer ${tokens[role]}` }),
    simNode: (name, params = {}) => host.createNode({ name, driver: 'sim', params }, { requestedBy: 'test' }),
    rowCounts,
    async quiet() {
      let last = '';
      return eventually(async () => {
        const busy = host.listNodes().some((n) => n.power.inFlight !== null || n.power.pending !== null) || host.stats().commandsInFlight > 0;
        if (busy) return undefined;
        const counts = await rowCounts();
        const key = JSON.stringify(counts);
        if (key !== last) {
          last = key;
          return undefined;
        }
        return counts;
      }, 10_000, 'a quiet host');
    },
    async close() {
      if (closed) return;
      closed = true;
      await service.close();
      await handle.close();
    },
  };
}

/** Waits until `check` returns a value (not undefined), polling; fails after timeoutMs. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
