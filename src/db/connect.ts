/**
 * Opens the database: PostgreSQL through a `pg` pool when a URL is given, else embedded PGlite
 * with its files in `<dataDir>/pglite` (or in memory, for tests). Both speak the same SQL, and
 * int8 values come back as numbers on both.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { lockDataDir } from './datadir-lock.ts';
import type { Database } from './schema.ts';

export type Backend = 'postgres' | 'pglite';

export interface OpenDatabaseOptions {
  /** postgres:// URL; when set, PostgreSQL is used and dataDir is ignored. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  /** 'memory' keeps PGlite in memory (tests); ignored when databaseUrl is set. */
  readonly pglite?: 'memory' | undefined;
  /** Connections in the PostgreSQL pool (default 10). */
  readonly poolSize?: number | undefined;
  /** An idle pooled connection broke (server restart, network). The pool replaces it. */
  readonly onConnectionError?: ((err: Error) => void) | undefined;
}

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly backend: Backend;
  /** Where the data lives, safe to log (no password). */
  readonly location: string;
  close(): Promise<void>;
}

export class DatabaseOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseOpenError';
  }
}

const INT8_OID = 20;

// Per-pool parsers, so the process-wide pg.types stay untouched.
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
} as pg.CustomTypesConfig;

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    return openPostgres(options.databaseUrl, options);
  }
  return openPglite(options);
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const location = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types: pgTypes });
  pool.on('error', (err) => options.onConnectionError?.(err));
  // The pool only watches idle clients; a checked-out one killed by the server (pg_terminate_backend,
  // a restart) would emit an unhandled 'error' and end the process. The query on it fails anyway.
  pool.on('connect', (client) => client.on('error', (err) => options.onConnectionError?.(err)));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseOpenError(`cannot connect to PostgreSQL at ${location}: ${reason}`, { cause: err });
  }
  return { db, backend: 'postgres', location, close: once(() => db.destroy()) };
}

async function openPglite(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.pglite === 'memory') {
    const lite = await PGlite.create();
    const db = new Kysely<Database>({ dialect: new PGliteDialect(lite) });
    return { db, backend: 'pglite', location: 'memory', close: once(() => db.destroy()) };
  }
  const dataDir = resolve(options.dataDir);
  const pgliteDir = join(dataDir, 'pglite');
  try {
    await mkdir(pgliteDir, { recursive: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseOpenError(`cannot create the data directory ${dataDir}: ${reason}`, { cause: err });
  }
  const unlock = await lockDataDir(join(dataDir, 'pglite.lock'));
  let lite: PGlite;
  try {
    lite = await PGlite.create({ dataDir: pgliteDir });
  } catch (err) {
    await unlock();
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseOpenError(`cannot open the embedded database in ${pgliteDir}: ${reason}`, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(lite) });
  return {
    db,
    backend: 'pglite',
    location: pgliteDir,
    close: once(async () => {
      try {
        await db.destroy();
      } finally {
        await unlock();
      }
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
