/**
 * Issue 3b: heap bytes per idle node with 100,000 nodes restored by the real host (bootQueries
 * off), against bare started actors of the same machine. Each side runs in its own
 * `node --expose-gc` child so neither sees the other's garbage.
 */
import { runChild } from '../lib/child.ts';
import { createBenchDatabase } from '../lib/database.ts';
import type { Figure, FigureContext } from '../lib/figure.ts';
import { seedSimNodes } from '../lib/seed.ts';
import type { HeapChildInput, HeapChildOutput } from './heap-child.ts';

const CHILD = new URL('./heap-child.ts', import.meta.url);

export const heapFigure: Figure = {
  name: 'heap',
  title: 'heap bytes per idle node (host restore vs bare actors)',
  async run(ctx: FigureContext) {
    const count = ctx.quick ? 20_000 : 100_000;
    const bdb = await createBenchDatabase(ctx.serverUrl, 'heap');
    try {
      const handle = await bdb.open();
      ctx.log(`seeding ${count} idle sim nodes`);
      await seedSimNodes(handle.db, { count });
      await handle.close();
      const run = (input: HeapChildInput) => runChild<HeapChildOutput>(CHILD, input, { nodeFlags: ['--expose-gc'], timeoutMs: 300_000 });
      ctx.log('bare actors');
      const bare = await run({ mode: 'bare', count });
      ctx.log('host restore');
      const host = await run({ mode: 'host', count, database: bdb.spec });
      return [{
        key: 'heap.bytes_per_node',
        label: `heap bytes per idle node at ${count} nodes`,
        value: host.bytesPerNode,
        unit: 'bytes/node',
        baseline: bare.bytesPerNode,
        target: { on: 'ratio', better: 'lower', limit: 1.6 },
        note: `host: heapUsed after start() minus before, over ${count} nodes restored from ${bdb.spec.backend} (runtime objects, maps, actors, ` +
          `decrypted params, committed snapshot); baseline: createActor(nodeMachine).start() x ${count}; both after forced GC in their own process`,
      }];
    } finally {
      await bdb.dispose();
    }
  },
};
