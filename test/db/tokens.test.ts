import { beforeEach, expect, it } from 'vitest';
import { isUniqueViolation } from '../../src/db/errors.ts';
import { getMeta, setMetaIfAbsent } from '../../src/db/repositories/meta.ts';
import {
  countActiveAdmins, createToken, findTokenByHash, generateToken, hashToken, listTokens, revokeToken, revokeTokenKeepingAnAdmin, touchToken,
} from '../../src/db/repositories/tokens.ts';
import { inTransaction } from '../../src/db/executor.ts';
import { describeEachBackend, truncateAll } from '../support/database.ts';

describeEachBackend('tokens and meta repositories', (t) => {
  beforeEach(async () => {
    await truncateAll(t.db);
  });

  it('stores only the hash and finds a live token by it', async () => {
    const token = generateToken();
    expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{43}$/);
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const created = await createToken(t.db, { id: 't1', name: 'ci', role: 'operator', token });
    expect(created).toMatchObject({ id: 't1', name: 'ci', role: 'operator', lastUsedAt: null, revokedAt: null });
    const stored = await t.db.selectFrom('api_tokens').select('token_hash').executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(hashToken(token));
    expect(JSON.stringify(await t.db.selectFrom('api_tokens').selectAll().execute())).not.toContain(token);
    expect(await findTokenByHash(t.db, hashToken(token))).toEqual(created);
    expect(await findTokenByHash(t.db, hashToken('wrong'))).toBeUndefined();
    expect(isUniqueViolation(await createToken(t.db, { id: 't2', name: 'copy', role: 'viewer', token }).catch((e: unknown) => e))).toBe(true);
  });

  it('records use, revokes once, and counts live admins', async () => {
    const a1 = generateToken();
    await createToken(t.db, { id: 'a1', name: 'root', role: 'admin', token: a1 });
    await createToken(t.db, { id: 'a2', name: 'root2', role: 'admin', token: generateToken() });
    await createToken(t.db, { id: 'v1', name: 'dash', role: 'viewer', token: generateToken() });
    expect(await countActiveAdmins(t.db)).toBe(2);
    const usedAt = new Date('2025-06-01T00:00:00.000Z');
    await touchToken(t.db, 'a1', usedAt);
    expect((await findTokenByHash(t.db, hashToken(a1)))?.lastUsedAt).toEqual(usedAt);
    expect(await revokeToken(t.db, 'a1')).toBe(true);
    expect(await revokeToken(t.db, 'a1')).toBe(false);
    expect(await revokeToken(t.db, 'nope')).toBe(false);
    expect(await countActiveAdmins(t.db)).toBe(1);
    expect(await findTokenByHash(t.db, hashToken(a1))).toBeUndefined();
    expect((await findTokenByHash(t.db, hashToken(a1), { includeRevoked: true }))?.revokedAt).toBeInstanceOf(Date);
    expect((await listTokens(t.db)).map((x) => x.id).sort()).toEqual(['a1', 'a2', 'v1']);
  });

  it('never lets two admins revoking each other at once leave no admin', async () => {
    for (let round = 0; round < 15; round++) {
      await truncateAll(t.db);
      await createToken(t.db, { id: 'a', name: 'alice', role: 'admin', token: generateToken() });
      await createToken(t.db, { id: 'b', name: 'bob', role: 'admin', token: generateToken() });
      const outcomes = await Promise.all(['b', 'a'].map((id) => inTransaction(t.db, (tx) => revokeTokenKeepingAnAdmin(tx, id))));
      expect(outcomes.sort()).toEqual(['last_admin', 'revoked']);
      expect(await countActiveAdmins(t.db)).toBe(1);
    }
    await createToken(t.db, { id: 'v', name: 'dash', role: 'viewer', token: generateToken() });
    expect(await inTransaction(t.db, (tx) => revokeTokenKeepingAnAdmin(tx, 'v'))).toBe('revoked');
    expect(await inTransaction(t.db, (tx) => revokeTokenKeepingAnAdmin(tx, 'v'))).toBe('not_found');
  });

  it('refuses an unknown role', async () => {
    await expect(createToken(t.db, { id: 'x', name: 'x', role: 'root' as 'admin', token: generateToken() })).rejects.toThrow(/role/);
  });

  it('keeps meta values, keeps the first on setIfAbsent', async () => {
    expect(await getMeta(t.db, 'secret_key_fingerprint')).toBeUndefined();
    expect(await setMetaIfAbsent(t.db, 'installed', 'first')).toBe('first');
    expect(await setMetaIfAbsent(t.db, 'installed', 'second')).toBe('first');
  });
});
