/**
 * The `api_tokens` table. Only a token's sha256 is stored; the token itself is shown once,
 * when it is created.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Executor } from '../executor.ts';
import type { TokenDbRow, TokenRole } from '../schema.ts';

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: TokenRole;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

/** A new random token: `sbt_` and 32 random bytes, base64url. */
export function generateToken(): string {
  return `sbt_${randomBytes(32).toString('base64url')}`;
}

/** sha256 of the token, lowercase hex: what is stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toTokenRecord(row: TokenDbRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** Stores the hash of `token`. The caller shows the token to its owner and forgets it. */
export async function createToken(
  db: Executor,
  input: { id: string; name: string; role: TokenRole; token: string },
): Promise<TokenRecord> {
  const row = await db
    .insertInto('api_tokens')
    .values({ id: input.id, name: input.name, role: input.role, token_hash: hashToken(input.token) })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTokenRecord(row);
}

/** The token with this hash, unless revoked (pass includeRevoked to see revoked ones too). */
export async function findTokenByHash(
  db: Executor,
  tokenHash: string,
  options: { includeRevoked?: boolean } = {},
): Promise<TokenRecord | undefined> {
  let query = db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash);
  if (options.includeRevoked !== true) query = query.where('revoked_at', 'is', null);
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toTokenRecord(row);
}

/** Records a use. Callers should throttle this (e.g. once a minute per token). */
export async function touchToken(db: Executor, id: string, at: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** Revokes a live token. False when there is no such token or it was already revoked. */
export async function revokeToken(db: Executor, id: string): Promise<boolean> {
  const row = await db
    .updateTable('api_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Revokes a token unless it is the last live admin, atomically: the live admin rows are locked
 * first, so two admins revoking each other at the same moment cannot both pass the check (the
 * second waits, then sees the first one's revocation). Run it in a transaction.
 */
export async function revokeTokenKeepingAnAdmin(tx: Executor, id: string): Promise<'revoked' | 'not_found' | 'last_admin'> {
  const target = await tx.selectFrom('api_tokens').select(['role']).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  if (target === undefined) return 'not_found';
  if (target.role === 'admin') {
    const admins = await tx.selectFrom('api_tokens').select('id').where('role', '=', 'admin').where('revoked_at', 'is', null).orderBy('id').forUpdate().execute();
    if (!admins.some((a) => a.id === id)) return 'not_found';
    if (admins.length <= 1) return 'last_admin';
  }
  return (await revokeToken(tx, id)) ? 'revoked' : 'not_found';
}

export async function countActiveAdmins(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('api_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'admin')
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listTokens(db: Executor): Promise<TokenRecord[]> {
  const rows = await db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(toTokenRecord);
}
