/** JSON calls to the API with the stored token; every failure becomes an ApiError with the server's words. */
import { token } from './token.js';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? {};
  }
}

export async function api(method, path, body, options = {}) {
  const headers = { accept: 'application/json' };
  const secret = options.token !== undefined ? options.token : token.value;
  if (secret) headers.authorization = `Bearer ${secret}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'The server did not answer (network error or server down).');
  }
  const text = await res.text();
  let data = text;
  if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && typeof data === 'object' && data.error ? data.error : null;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `HTTP ${res.status}`, err?.details);
  }
  return { status: res.status, data };
}

export const nodePath = (id) => `/api/v1/nodes/${encodeURIComponent(id)}`;

/** Finds the role of a token: /tokens answers admins, and tells others their role in the 403. */
export async function probeRole(secret) {
  try {
    await api('GET', '/api/v1/tokens', undefined, { token: secret });
    return 'admin';
  } catch (err) {
    if (err instanceof ApiError && err.code === 'forbidden' && typeof err.details.role === 'string') return err.details.role;
    throw err;
  }
}
