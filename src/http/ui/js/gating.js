/** The gating table and the chart's vocabulary from the API, fetched once (again after a failure). */
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
