/** What repository functions run on: the database or an open transaction. */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

export type Executor = Kysely<Database> | Transaction<Database>;

/** Runs fn in a transaction: the caller's if it passed one, else a new one. */
export async function inTransaction<T>(db: Executor, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<Database>);
  return db.transaction().execute(fn);
}

/** jsonb parameters go in as JSON text: both drivers pass strings through untouched. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('value cannot be stored as JSON');
  return text;
}

/** Instants go into JSON payloads as epoch milliseconds (cheaper than ISO strings); SQL reads them with to_timestamp(ms / 1000.0). */
export function epochMs(at: Date | null | undefined): number | null {
  return at ? at.getTime() : null;
}
