import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  REDACTED,
  SecretKeyError,
  SecretKeyMismatchError,
  assertParamsMatchKey,
  decryptParams,
  encryptParams,
  envelopeKeyIds,
  isEncryptedValue,
  keyFingerprint,
  loadSecretKey,
  redactParams,
  type SecretKey,
} from '../src/secrets.ts';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'switchboard-secrets-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function configKey(): Promise<SecretKey> {
  return loadSecretKey({ secretKey: randomBytes(32).toString('hex'), dataDir });
}

const PARAMS = { url: 'https://10.0.0.5', user: 'admin', password: 'hunter2-very-secret', insecure: true };

describe('encryptParams / decryptParams', () => {
  it('round-trips secret values and leaves the rest untouched', async () => {
    const key = await configKey();
    const stored = encryptParams(PARAMS, ['password'], key);
    expect(stored.url).toBe(PARAMS.url);
    expect(stored.user).toBe('admin');
    expect(isEncryptedValue(stored.password)).toBe(true);
    expect(decryptParams(stored, ['password'], key)).toEqual(PARAMS);
  });

  it('never puts the plaintext in the envelope, and uses a fresh IV each time', async () => {
    const key = await configKey();
    const a = encryptParams(PARAMS, ['password'], key);
    const b = encryptParams(PARAMS, ['password'], key);
    const text = JSON.stringify(a);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(Buffer.from('hunter2-very-secret').toString('base64'));
    expect(a.password).toMatchObject({ $enc: expect.stringMatching(/^v1:[^:]+:[^:]+:[^:]+$/), kid: key.fingerprint });
    expect(JSON.stringify(a.password)).not.toBe(JSON.stringify(b.password));
  });

  it('does not encrypt twice and skips absent secrets', async () => {
    const key = await configKey();
    const once = encryptParams(PARAMS, ['password', 'bearer'], key);
    const twice = encryptParams(once, ['password', 'bearer'], key);
    expect(twice).toEqual(once);
    expect('bearer' in twice).toBe(false);
    expect(decryptParams(twice, ['password', 'bearer'], key)).toEqual(PARAMS);
  });

  it('a wrong key fails with SecretKeyMismatchError that says what to do', async () => {
    const key = await configKey();
    const other = await configKey();
    const stored = encryptParams(PARAMS, ['password'], key);
    let caught: unknown;
    try {
      decryptParams(stored, ['password'], other);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SecretKeyMismatchError);
    const message = (caught as Error).message;
    expect(message).toContain(key.fingerprint);
    expect(message).toContain(other.fingerprint);
    expect(message).toContain('SWITCHBOARD_SECRET_KEY');
    expect(() => assertParamsMatchKey(stored, other)).toThrow(SecretKeyMismatchError);
    expect(() => assertParamsMatchKey(stored, key)).not.toThrow();
    expect(envelopeKeyIds(stored)).toEqual([key.fingerprint]);
  });

  it('a forged kid or tampered ciphertext does not decrypt', async () => {
    const key = await configKey();
    const other = await configKey();
    const stored = encryptParams(PARAMS, ['password'], key);
    const forged = { ...stored, password: { ...(stored.password as object), kid: other.fingerprint } };
    expect(() => decryptParams(forged, ['password'], other)).toThrow(SecretKeyMismatchError);
    // An envelope moved to another param name fails too (the name is authenticated).
    const moved = { ...stored, bearer: stored.password };
    expect(() => decryptParams(moved, ['bearer'], key)).toThrow(SecretKeyMismatchError);
  });
});

describe('loadSecretKey', () => {
  it('accepts hex and base64 keys from config and fingerprints them', async () => {
    const bytes = randomBytes(32);
    const fromHex = await loadSecretKey({ secretKey: bytes.toString('hex'), dataDir });
    const fromB64 = await loadSecretKey({ secretKey: bytes.toString('base64'), dataDir });
    expect(fromHex.bytes.equals(bytes)).toBe(true);
    expect(fromB64.bytes.equals(bytes)).toBe(true);
    expect(fromHex.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(fromHex.fingerprint).toBe(keyFingerprint(bytes));
    expect(fromHex.source).toBe('config');
  });

  it.each([
    ['too short hex', 'abcdef'],
    ['31 bytes of base64', randomBytes(31).toString('base64')],
    ['33 bytes of hex', randomBytes(33).toString('hex')],
    ['a passphrase', 'correct horse battery staple'],
  ])('rejects %s naming SWITCHBOARD_SECRET_KEY', async (_label, value) => {
    await expect(loadSecretKey({ secretKey: value, dataDir })).rejects.toThrow(SecretKeyError);
    await expect(loadSecretKey({ secretKey: value, dataDir })).rejects.toThrow(/SWITCHBOARD_SECRET_KEY/);
  });

  it('creates <dataDir>/secret.key with mode 0600 when unset, then reuses it', async () => {
    const dir = join(dataDir, 'nested', 'data');
    const first = await loadSecretKey({ dataDir: dir });
    expect(first.source).toBe('created');
    const path = join(dir, 'secret.key');
    const info = await stat(path);
    expect(info.mode & 0o777).toBe(0o600);
    const second = await loadSecretKey({ dataDir: dir });
    expect(second.source).toBe('file');
    expect(second.bytes.equals(first.bytes)).toBe(true);
    const stored = encryptParams(PARAMS, ['password'], first);
    expect(decryptParams(stored, ['password'], second)).toEqual(PARAMS);
    expect((await readFile(path, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a corrupt key file is a clear error, not a new key', async () => {
    await writeFile(join(dataDir, 'secret.key'), 'not a key\n', { mode: 0o600 });
    await expect(loadSecretKey({ dataDir })).rejects.toThrow(/secret\.key: not a valid secret key/);
  });
});

describe('redactParams', () => {
  it('replaces secrets with *** and keeps other values', () => {
    const redacted = redactParams({ ...PARAMS, bearer: 'tok' }, ['password', 'bearer']);
    expect(redacted).toEqual({ ...PARAMS, password: REDACTED, bearer: REDACTED });
    expect(JSON.stringify(redacted)).not.toContain('hunter2');
    expect(redactParams({ url: 'x' }, ['password'])).toEqual({ url: 'x' });
  });
});
