/**
 * One figure in a process of its own (bench/index.ts starts one per figure), so no figure runs in
 * a heap full of an earlier one's garbage or timers: a 100,000-node restore used to leave the
 * latency figure that followed it a second slower at p99. Progress goes to stderr as it happens;
 * the rows are the last stdout line.
 */
import { FIGURES } from '../figures/index.ts';
import { childMain } from './child.ts';
import type { FigureResult } from './report.ts';

export interface FigureChildInput {
  readonly name: string;
  readonly quick: boolean;
}

childMain<FigureChildInput, FigureResult[]>(async ({ name, quick }) => {
  const figure = FIGURES.find((f) => f.name === name);
  if (!figure) throw new Error(`unknown figure "${name}"`);
  const serverUrl = process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  return figure.run({ quick, serverUrl, log: (m) => process.stderr.write(`  ${m}\n`) });
});
