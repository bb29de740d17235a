/**
 * A test's own service as a real child process that reports on stdout, one JSON object a line:
 * started detached (it leads its own process group, so a test can SIGKILL the whole group), its
 * lines collected, and a wait for the first line that matches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface JsonLinesChild<L> {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: L[];
  readonly exited: Promise<void>;
  /** The last stderr output (bounded), for failure messages. */
  stderr(): string;
  /** The first line from index `from` on that matches; rejects if the child exits first or time runs out. */
  waitFor<T extends L>(match: (line: L) => line is T, what: string, timeoutMs: number, from?: number): Promise<T>;
  waitFor(match: (line: L) => boolean, what: string, timeoutMs: number, from?: number): Promise<L>;
  send(line: unknown): void;
}

/** Runs `node --import tsx script argsJson` detached. */
export function startJsonLinesChild<L>(script: string, args: unknown, options: { keepStderr?: number } = {}): JsonLinesChild<L> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  const keep = options.keepStderr ?? 8_000;
  const lines: L[] = [];
  const wake = new Set<() => void>();
  let stderr = '';
  let done = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      done = true;
      resolve();
      for (const w of [...wake]) w();
    }),
  );
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-keep);
  });
  child.stdin!.on('error', () => undefined);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as L);
    } catch {
      return;
    }
    for (const w of [...wake]) w();
  });
  async function waitFor(match: (line: L) => boolean, what: string, timeoutMs: number, from = 0): Promise<L> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.slice(from).find(match);
      if (found !== undefined) return found;
      if (done) throw new Error(`${script} exited (${child.exitCode ?? child.signalCode}) before ${what}\n${stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${stderr}`);
      await new Promise<void>((resolve) => {
        const wakeUp = (): void => {
          clearTimeout(timer);
          wake.delete(wakeUp);
          resolve();
        };
        const timer = setTimeout(wakeUp, left);
        wake.add(wakeUp);
      });
    }
  }
  return {
    child,
    pid: child.pid,
    lines,
    exited,
    stderr: () => stderr,
    waitFor: waitFor as JsonLinesChild<L>['waitFor'],
    send(line) {
      child.stdin!.write(`${JSON.stringify(line)}\n`);
    },
  };
}
