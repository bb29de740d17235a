/**
 * Progress of a bulk run on stderr: a redrawn bar on a terminal, one line per step otherwise
 * (so logs and tests see it too). Silent for small runs, where the result lines say enough.
 */
import type { TextStream } from './output.ts';

/** Runs over more nodes than this show progress. */
export const PROGRESS_MIN_NODES = 5;
const BAR_WIDTH = 30;

export interface Progress {
  update(done: number): void;
  finish(): void;
}

const silent: Progress = { update: () => undefined, finish: () => undefined };

export function createProgress(label: string, total: number, stream: TextStream, enabled: boolean): Progress {
  if (!enabled || total <= PROGRESS_MIN_NODES) return silent;
  const tty = stream.isTTY === true;
  let last = -1;
  const render = (done: number) => {
    if (done === last) return;
    last = done;
    if (!tty) {
      stream.write(`${label}: ${done}/${total}\n`);
      return;
    }
    const filled = Math.round((done / total) * BAR_WIDTH);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`);
  };
  render(0);
  return {
    update: render,
    finish: () => {
      render(total);
      if (tty) stream.write('\n');
    },
  };
}
