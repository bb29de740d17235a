/**
 * Recognising database errors the same way on both backends: `pg` throws DatabaseError and
 * PGlite throws its own class, but both carry the SQLSTATE in `code` and the `constraint` name.
 */

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const CHECK_VIOLATION = '23514';

function field(err: unknown, name: 'code' | 'constraint'): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const value = (err as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** The SQLSTATE of a database error, or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = field(err, 'code');
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for a unique-constraint violation; pass `constraint` to match one index only. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return sqlState(err) === UNIQUE_VIOLATION && (constraint === undefined || field(err, 'constraint') === constraint);
}

export function isForeignKeyViolation(err: unknown): boolean {
  return sqlState(err) === FOREIGN_KEY_VIOLATION;
}

export function isCheckViolation(err: unknown): boolean {
  return sqlState(err) === CHECK_VIOLATION;
}

/** The name of the constraint a database error names, if any. */
export function violatedConstraint(err: unknown): string | undefined {
  return field(err, 'constraint');
}

/** The unique index that keeps live node names distinct (db/migrations/0001_initial.ts). */
export const NODE_NAME_CONSTRAINT = 'nodes_name_live_key';
