/**
 * The sim BMC fleet in its own process: it outlives every crash of the host under test, so
 * its power states, command history and overlap counters span all restarts.
 */
import { fileURLToPath } from 'node:url';
import { SimBmcClient } from '../../src/drivers/sim/index.ts';
import { killHard, spawnTsx, type JsonLineChild } from './processes.ts';

const CLI = fileURLToPath(new URL('../../src/drivers/sim/cli.ts', import.meta.url));

export interface SimProcess {
  readonly url: string;
  readonly client: SimBmcClient;
  stop(): Promise<void>;
}

export async function startSimProcess(options: { bmcLimit?: number; historyPerNode?: number } = {}): Promise<SimProcess> {
  const proc: JsonLineChild = spawnTsx(CLI, [
    '--port', '0',
    '--bmc-limit', String(options.bmcLimit ?? 1),
    '--history-per-node', String(options.historyPerNode ?? 100_000),
    '--exit-on-stdin-close',
  ]);
  let url: string;
  try {
    ({ url } = await proc.next<{ type: 'line'; url: string }>('line', 20_000));
  } catch (err) {
    await killHard(proc);
    throw err;
  }
  const client = new SimBmcClient(url);
  return {
    url,
    client,
    async stop() {
      await client.close();
      proc.child.stdin?.end();
      const gone = await Promise.race([proc.exited().then(() => true), new Promise((r) => setTimeout(() => r(false), 3_000))]);
      if (!gone) await killHard(proc);
    },
  };
}
