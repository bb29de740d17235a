/** The `meta` table: small facts about the installation (e.g. the secret key's fingerprint). */
import { toJson, type Executor } from '../executor.ts';

export async function getMeta(db: Executor, key: string): Promise<unknown> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Sets the value only if the key is absent; returns the value now stored. */
export async function setMetaIfAbsent(db: Executor, key: string, value: unknown): Promise<unknown> {
  await db.insertInto('meta').values({ key, value: toJson(value) }).onConflict((oc) => oc.column('key').doNothing()).execute();
  return getMeta(db, key);
}
