/** The gating table from the API (which lifecycle events operators send), fetched once. */
import { api } from './api.js';

let cached = null;

export function gating() {
  if (cached === null) {
    cached = api('GET', '/api/v1/gating').then((r) => r.data).catch((err) => {
      cached = null;
      throw err;
    });
  }
  return cached;
}
