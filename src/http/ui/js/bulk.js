/**
 * Bulk power through POST /api/v1/power, in chunks so a progress bar can move and one reply
 * never holds thousands of results. Chunks go one after another (the server handles each
 * chunk's nodes in parallel); a failed chunk counts its nodes as failed and the run goes on.
 */
import { api, ApiError } from './api.js';

export const CHUNK_SIZE = 50;

export function emptyTally(total) {
  return { total, done: 0, accepted: 0, coalesced: 0, refused: 0, failed: 0, problems: [] };
}

function record(tally, result, nameOf) {
  tally.done++;
  if (result.status === 202) tally.accepted++;
  else if (result.status === 200) tally.coalesced++;
  else {
    if (result.status === 409) tally.refused++;
    else tally.failed++;
    const error = result.error ?? { code: `http_${result.status}`, message: `HTTP ${result.status}` };
    tally.problems.push({ id: result.nodeId ?? result.node, name: nameOf(result.nodeId ?? result.node), error });
  }
}

/** Runs the action over ids; onProgress(tally) after every chunk. A signal stops between chunks. */
export async function runBulk(ids, action, { nameOf = (id) => id, onProgress = () => {}, signal } = {}) {
  const tally = emptyTally(ids.length);
  for (let i = 0; i < ids.length; i += CHUNK_SIZE) {
    if (signal?.aborted) break;
    const chunk = ids.slice(i, i + CHUNK_SIZE);
    try {
      const { data } = await api('POST', '/api/v1/power', { nodes: chunk, action });
      for (const result of data.results) record(tally, result, nameOf);
    } catch (err) {
      const error = err instanceof ApiError ? { code: err.code, message: err.message, details: err.details } : { code: 'error', message: String(err) };
      for (const id of chunk) record(tally, { nodeId: id, status: err.status ?? 0, error }, nameOf);
      // Auth problems will not fix themselves for the next chunk.
      if (error.code === 'unauthorized' || error.code === 'forbidden') {
        onProgress(tally);
        tally.stopped = error;
        break;
      }
    }
    onProgress(tally);
  }
  return tally;
}
