/**
 * Test databases. Each test file gets its own: a fresh in-memory PGlite, or — when
 * DATABASE_URL is set — a uniquely named database created on that server and dropped after.
 *
 *   describeEachBackend('nodes', (t) => {
 *     it('...', async () => { await insertNode(t.db, ...) });
 *   });
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type Backend, type DatabaseHandle } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { Database } from '../../src/db/schema.ts';

export type TestBackend = Backend;

/** PGlite always; PostgreSQL too when DATABASE_URL is set. */
export function availableBackends(): TestBackend[] {
  return postgresServerUrl() === undefined ? ['pglite'] : ['pglite', 'postgres'];
}

function postgresServerUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  return url === undefined || url === '' ? undefined : url;
}

export interface TestDatabase extends DatabaseHandle {
  /** Closes the connection and, for PostgreSQL, drops the database. */
  dispose(): Promise<void>;
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty database (migrated unless `migrate: false`). Call dispose() when done. */
export async function createTestDatabase(backend: TestBackend, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let handle: DatabaseHandle;
  let drop = async (): Promise<void> => undefined;
  if (backend === 'pglite') {
    handle = await openDatabase({ dataDir: '', pglite: 'memory' });
  } else {
    const serverUrl = postgresServerUrl();
    if (serverUrl === undefined) throw new Error('the postgres test backend needs DATABASE_URL');
    const name = `switchboard_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    await withAdmin(serverUrl, (c) => c.query(`create database "${name}"`));
    drop = () => withAdmin(serverUrl, async (c) => {
      await c.query(`drop database if exists "${name}" with (force)`);
    });
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    try {
      handle = await openDatabase({ databaseUrl: url.toString(), dataDir: '', poolSize: 4 });
    } catch (err) {
      await drop();
      throw err;
    }
  }
  if (options.migrate !== false) await migrateToLatest(handle.db);
  return {
    ...handle,
    dispose: async () => {
      try {
        await handle.close();
      } finally {
        await drop();
      }
    },
  };
}

export interface TestDatabaseContext {
  readonly backend: TestBackend;
  /** The current test file's database; valid inside tests and hooks. */
  readonly db: Kysely<Database>;
  readonly handle: TestDatabase;
}

/** Registers beforeAll/afterAll that give the surrounding suite one migrated database. */
export function withTestDatabase(backend: TestBackend = 'pglite', options: { migrate?: boolean } = {}): TestDatabaseContext {
  let current: TestDatabase | undefined;
  beforeAll(async () => {
    current = await createTestDatabase(backend, options);
  });
  afterAll(async () => {
    await current?.dispose();
    current = undefined;
  });
  const get = (): TestDatabase => {
    if (current === undefined) throw new Error('the test database is only available inside tests and hooks');
    return current;
  };
  return {
    backend,
    get db() {
      return get().db;
    },
    get handle() {
      return get();
    },
  };
}

/** Runs the suite once per available backend, each with its own database. */
export function describeEachBackend(name: string, body: (t: TestDatabaseContext) => void, options: { migrate?: boolean } = {}): void {
  describe.each(availableBackends())(`${name} [%s]`, (backend) => {
    body(withTestDatabase(backend, options));
  });
}

/** Empties every table (keeps the schema); for suites that need a clean slate per test. */
export async function truncateAll(db: Kysely<Database>): Promise<void> {
  await sql`truncate node_events, power_ops, node_snapshots, nodes, api_tokens, meta restart identity`.execute(db);
}
