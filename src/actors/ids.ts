/** Ids the host allocates: op ids (carried into the chart on events) and node ids. */
import { randomBytes, randomFillSync } from 'node:crypto';

// Random bytes for op ids come from a pool filled 4 KiB at a time: a call into the crypto
// binding per op cost more than the rest of the id.
const idPool = Buffer.alloc(4096);
let idPoolAt = idPool.length;

export function newOpId(): string {
  if (idPoolAt + 6 > idPool.length) {
    randomFillSync(idPool);
    idPoolAt = 0;
  }
  const random = idPool.toString('hex', idPoolAt, idPoolAt + 6);
  idPoolAt += 6;
  return `op_${Date.now().toString(36)}${random}`;
}

export function newNodeId(): string {
  return `node_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}
