/**
 * Keyset paging: a page is the rows after (or before) a cursor in a fixed order, so a deep page
 * costs what the first one does. Cursors are opaque to clients (base64url of a JSON array).
 */

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export class InvalidPageRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPageRequestError';
  }
}

export interface Page<T> {
  readonly items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidPageRequestError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${limit}`);
  }
  return limit;
}

export function encodeCursor(parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/** Decodes a cursor made by encodeCursor with the given part types, or throws a clear error. */
export function decodeCursor<const K extends readonly ('string' | 'number')[]>(
  cursor: string,
  kinds: K,
): { [I in keyof K]: K[I] extends 'number' ? number : string } {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidPageRequestError('cursor is not one this server issued');
  }
  if (!Array.isArray(parts) || parts.length !== kinds.length || parts.some((p, i) => typeof p !== kinds[i])) {
    throw new InvalidPageRequestError('cursor is not one this server issued');
  }
  return parts as { [I in keyof K]: K[I] extends 'number' ? number : string };
}

/** Fetch limit + 1 rows; this trims the extra one and builds the cursor from the last kept row. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => string): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: more && last !== undefined ? cursorOf(last) : null };
}
