/**
 * Driver secrets at rest: AES-256-GCM envelopes for the param keys a driver declares secret
 * (`secretParams`), and redaction for anything shown or logged.
 *
 * An encrypted value is `{ "$enc": "v1:<iv b64>:<tag b64>:<ciphertext b64>", "kid": "<fp>" }`.
 * The param name is bound as additional authenticated data, so an envelope moved to another
 * key does not decrypt. `kid` is the key's fingerprint, which lets the host check at start that
 * the stored data was written with the configured key instead of failing on first use.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET_KEY_VARIABLE = 'SWITCHBOARD_SECRET_KEY';
export const KEY_FILE_NAME = 'secret.key';
export const REDACTED = '***';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const VERSION = 'v1';

export interface SecretKey {
  readonly bytes: Buffer;
  /** First 8 hex digits of sha256(key); stored with every envelope. */
  readonly fingerprint: string;
  /** Where the key came from, for the start-up log. */
  readonly source: 'config' | 'file' | 'created';
  readonly path?: string;
}

export interface EncryptedValue {
  readonly $enc: string;
  readonly kid: string;
}

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export class SecretKeyMismatchError extends Error {
  constructor(
    readonly param: string,
    readonly storedKid: string,
    readonly currentKid: string,
  ) {
    super(
      `driver secret "${param}" was encrypted with another key (fingerprint ${storedKid}); ` +
        `the configured key has fingerprint ${currentKid}. Set ${SECRET_KEY_VARIABLE} to the key ` +
        `the data was written with (or restore the ${KEY_FILE_NAME} file of the data directory), ` +
        `or re-enter the node's secrets with PATCH /api/v1/nodes/:id.`,
    );
    this.name = 'SecretKeyMismatchError';
  }
}

export function keyFingerprint(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

function makeKey(bytes: Buffer, source: SecretKey['source'], path?: string): SecretKey {
  return { bytes, fingerprint: keyFingerprint(bytes), source, ...(path ? { path } : {}) };
}

/** Decodes 32 bytes given as 64 hex digits or base64 (standard or url-safe); undefined otherwise. */
export function decodeKey(text: string): Buffer | undefined {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
  }
  return undefined;
}

/**
 * The key from config when given (hex or base64 of 32 bytes), else `<dataDir>/secret.key`,
 * created with mode 0600 when missing.
 */
export async function loadSecretKey(options: { secretKey?: string; dataDir: string }): Promise<SecretKey> {
  if (options.secretKey !== undefined && options.secretKey !== '') {
    const bytes = decodeKey(options.secretKey);
    if (!bytes) {
      throw new SecretKeyError(
        `${SECRET_KEY_VARIABLE}: expected 32 bytes as 64 hex digits or base64 (e.g. the output of ` +
          '`openssl rand -hex 32`)',
      );
    }
    return makeKey(bytes, 'config');
  }
  const path = join(options.dataDir, KEY_FILE_NAME);
  await mkdir(options.dataDir, { recursive: true });
  const created = await createKeyFile(path);
  if (created) return makeKey(created, 'created', path);
  const bytes = decodeKey(await readFile(path, 'utf8'));
  if (!bytes) {
    throw new SecretKeyError(
      `${path}: not a valid secret key (expected 64 hex digits); restore the original file or set ${SECRET_KEY_VARIABLE}`,
    );
  }
  return makeKey(bytes, 'file', path);
}

/** Creates the key file exclusively; undefined when it already exists. */
async function createKeyFile(path: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err && err.code === 'EEXIST') return undefined;
    throw err;
  }
  const bytes = randomBytes(KEY_BYTES);
  try {
    await handle.writeFile(`${bytes.toString('hex')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return bytes;
}

export function isEncryptedValue(value: unknown): value is EncryptedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>).$enc === 'string' &&
    typeof (value as Record<string, unknown>).kid === 'string'
  );
}

export function encryptValue(param: string, value: unknown, key: SecretKey): EncryptedValue {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
  cipher.setAAD(Buffer.from(param, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  const parts = [VERSION, iv.toString('base64'), tag.toString('base64'), ciphertext.toString('base64')];
  return { $enc: parts.join(':'), kid: key.fingerprint };
}

export function decryptValue(param: string, envelope: EncryptedValue, key: SecretKey): unknown {
  if (envelope.kid !== key.fingerprint) throw new SecretKeyMismatchError(param, envelope.kid, key.fingerprint);
  const parts = envelope.$enc.split(':');
  const [version, ivText, tagText, dataText] = parts;
  if (parts.length !== 4 || version !== VERSION || ivText === undefined || tagText === undefined || dataText === undefined) {
    throw new SecretKeyError(`driver secret "${param}": unrecognised envelope format`);
  }
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, Buffer.from(ivText, 'base64'));
  decipher.setAAD(Buffer.from(param, 'utf8'));
  decipher.setAuthTag(Buffer.from(tagText, 'base64'));
  let plain: string;
  try {
    plain = Buffer.concat([decipher.update(Buffer.from(dataText, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    // Same fingerprint but authentication failed: tampered data or a forged kid.
    throw new SecretKeyMismatchError(param, envelope.kid, key.fingerprint);
  }
  return JSON.parse(plain) as unknown;
}

type Params = Readonly<Record<string, unknown>>;

/** Secret values replaced by envelopes; values already encrypted, null or absent stay as they are. */
export function encryptParams(params: Params, secretKeys: readonly string[], key: SecretKey): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  for (const name of secretKeys) {
    const value = out[name];
    if (value === undefined || value === null || isEncryptedValue(value)) continue;
    out[name] = encryptValue(name, value, key);
  }
  return out;
}

/** Envelopes replaced by their plaintext. Throws SecretKeyMismatchError for another key's data. */
export function decryptParams(params: Params, secretKeys: readonly string[], key: SecretKey): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  for (const name of secretKeys) {
    const value = out[name];
    if (isEncryptedValue(value)) out[name] = decryptValue(name, value, key);
  }
  return out;
}

/** Secret values replaced by "***", for replies, logs and streams. */
export function redactParams(params: Params, secretKeys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  for (const name of secretKeys) {
    if (out[name] !== undefined && out[name] !== null) out[name] = REDACTED;
  }
  return out;
}

/** Fingerprints of the keys the envelopes in these params were written with. */
export function envelopeKeyIds(params: Params): string[] {
  const ids = new Set<string>();
  for (const value of Object.values(params)) if (isEncryptedValue(value)) ids.add(value.kid);
  return [...ids];
}

/** For the start-up check: throws SecretKeyMismatchError when stored params name another key. */
export function assertParamsMatchKey(params: Params, key: SecretKey): void {
  for (const [name, value] of Object.entries(params)) {
    if (isEncryptedValue(value) && value.kid !== key.fingerprint) {
      throw new SecretKeyMismatchError(name, value.kid, key.fingerprint);
    }
  }
}
