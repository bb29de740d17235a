/**
 * Secrets never leave: a driver's error text ends up in lastError, events, op rows, the stream,
 * the CLI and the UI, readable by any viewer. Everything a driver says passes through here first:
 * the values of the node's secret params are replaced, and so is any user:password@ in a URL.
 */
import { DriverError } from './types.ts';

export const REDACTED = '[redacted]';

/** Secrets this short would garble a message if replaced anywhere: they are replaced as whole words only. */
const SHORT = 4;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function redactSecrets(text: string, params: Readonly<Record<string, unknown>>, secretParams: readonly string[]): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, `$1${REDACTED}@`);
  const secrets = secretParams
    .map((key) => params[key])
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .sort((a, b) => b.length - a.length);
  for (const secret of secrets) {
    const pattern = secret.length >= SHORT ? escape(secret) : `(?<![A-Za-z0-9])${escape(secret)}(?![A-Za-z0-9])`;
    out = out.replace(new RegExp(pattern, 'g'), REDACTED);
    // The same secret as it travels in a URL or a header.
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && encoded.length >= SHORT) out = out.split(encoded).join(REDACTED);
  }
  return out;
}

/**
 * A BMC URL param: http(s) only, and no credentials in it (fetch refuses such URLs, and the URL
 * is shown to viewers). The message never repeats what the URL held before its host.
 */
export function checkBmcUrl(key: string, value: string, credentialsGo: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DriverError('config', `${key} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DriverError('config', `${key}: expected http:// or https://, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new DriverError('config', `${key} has credentials in it (user:password@): remove them from the URL and put them in ${credentialsGo}`);
  }
  return url;
}
