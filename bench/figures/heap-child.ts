/**
 * Child of the heap figure, run as `node --expose-gc --import tsx`: measures heapUsed growth for
 * `count` idle nodes, either as bare started XState actors of the node machine, or as a real host
 * restored from the database (its runtimes, maps and actors). Prints bytes per node as JSON.
 */
import { createActor } from 'xstate';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import { childMain } from '../lib/child.ts';
import { openSpec, type BenchDatabaseSpec } from '../lib/database.ts';
import { benchHost } from '../lib/host.ts';
import { simSettings } from '../lib/seed.ts';

export interface HeapChildInput {
  readonly mode: 'bare' | 'host';
  readonly count: number;
  readonly database?: BenchDatabaseSpec;
}

export interface HeapChildOutput {
  readonly bytesPerNode: number;
  readonly nodes: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function settledHeap(): number {
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function bare(count: number): Promise<HeapChildOutput> {
  const settings = simSettings({});
  // Warm the machine's code paths first so compiled code is not counted per node.
  createActor(nodeMachine, { input: { settings } }).start().stop();
  const keep: unknown[] = [];
  const heapBefore = settledHeap();
  for (let i = 0; i < count; i++) keep.push(createActor(nodeMachine, { input: { settings } }).start());
  const heapAfter = settledHeap();
  if (keep.length !== count) throw new Error('lost actors');
  return { bytesPerNode: (heapAfter - heapBefore) / count, nodes: count, heapBefore, heapAfter };
}

async function host(count: number, spec: BenchDatabaseSpec): Promise<HeapChildOutput> {
  const handle = await openSpec(spec);
  try {
    const { host } = await benchHost(handle, { env: { SWITCHBOARD_SYNC_INTERVAL_MS: '0' } });
    // Warm the query and restore paths on an empty page of the table.
    await handle.db.selectFrom('nodes').selectAll().limit(1).execute();
    createActor(nodeMachine, { input: { settings: simSettings({}) } }).start().stop();
    const heapBefore = settledHeap();
    await host.start();
    const heapAfter = settledHeap();
    const nodes = host.stats().nodes;
    if (nodes !== count) throw new Error(`the host restored ${nodes} nodes, expected ${count}`);
    await host.stop();
    return { bytesPerNode: (heapAfter - heapBefore) / count, nodes, heapBefore, heapAfter };
  } finally {
    await handle.close();
  }
}

childMain<HeapChildInput, HeapChildOutput>(async (input) => {
  if (input.mode === 'bare') return bare(input.count);
  if (!input.database) throw new Error('host mode needs a database');
  return host(input.count, input.database);
});
