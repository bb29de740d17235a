/**
 * At start, before any node is restored: the configured secret key must be the one the
 * database's driver secrets were written with. Otherwise every node with a secret would come
 * up faulted one by one; an operator who mistyped the key (or lost the key file) should
 * instead get one clear message and a service that did not start.
 *
 * The first start records the key's fingerprint in `meta`. Databases from before that record
 * existed are checked against the envelopes in the stored node params, then recorded.
 */
import { sql, type Kysely } from 'kysely';
import { getMeta, setMetaIfAbsent } from './db/repositories/meta.ts';
import type { Database } from './db/schema.ts';
import { KEY_FILE_NAME, SECRET_KEY_VARIABLE, SecretKeyError, envelopeKeyIds, type SecretKey } from './secrets.ts';

export const KEY_FINGERPRINT_META = 'secret_key_fingerprint';

function mismatch(stored: string, key: SecretKey): SecretKeyError {
  const where = key.source === 'config' ? `${SECRET_KEY_VARIABLE}` : `the key file ${key.path ?? KEY_FILE_NAME}`;
  return new SecretKeyError(
    `the secret key from ${where} (fingerprint ${key.fingerprint}) is not the key this database's driver secrets ` +
      `were written with (fingerprint ${stored}). Start with the original key: set ${SECRET_KEY_VARIABLE} to it, or ` +
      `restore the ${KEY_FILE_NAME} file of the data directory. Nothing was changed.`,
  );
}

function storedFingerprint(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && typeof (value as { fingerprint?: unknown }).fingerprint === 'string') {
    return (value as { fingerprint: string }).fingerprint;
  }
  return undefined;
}

/** Throws SecretKeyError naming SWITCHBOARD_SECRET_KEY when the key does not fit the data. */
export async function assertSecretKeyMatchesData(db: Kysely<Database>, key: SecretKey): Promise<void> {
  const known = storedFingerprint(await getMeta(db, KEY_FINGERPRINT_META));
  if (known === undefined) {
    // Only nodes whose params hold an envelope matter; the text filter keeps the scan small.
    const rows = await db
      .selectFrom('nodes')
      .select('params')
      .where(sql<boolean>`params::text like ${'%"$enc"%'}`)
      .execute();
    for (const row of rows) {
      const other = envelopeKeyIds(row.params as Record<string, unknown>).find((kid) => kid !== key.fingerprint);
      if (other !== undefined) throw mismatch(other, key);
    }
  }
  // Atomic: of two first instances with different keys, the second one fails here.
  const recorded = storedFingerprint(await setMetaIfAbsent(db, KEY_FINGERPRINT_META, { fingerprint: key.fingerprint }));
  if (recorded !== key.fingerprint) throw mismatch(recorded ?? 'unreadable', key);
}
