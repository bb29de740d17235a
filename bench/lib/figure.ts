/** The contract between bench/index.ts and one figure module. */
import type { FigureResult } from './report.ts';

export interface FigureContext {
  /** Smaller sizes and shorter windows. */
  readonly quick: boolean;
  /** PostgreSQL server URL when DATABASE_URL is set, else undefined (PGlite). */
  readonly serverUrl: string | undefined;
  log(message: string): void;
}

export interface Figure {
  /** The name `--only` selects it by. */
  readonly name: string;
  readonly title: string;
  run(ctx: FigureContext): Promise<FigureResult[]>;
}
