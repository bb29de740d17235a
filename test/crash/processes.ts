/**
 * Child processes for the crash tests: started with `node --import tsx` so the pid we kill is
 * the process itself (not a wrapper), with a piped stdin so a child never outlives its parent,
 * and with stdout read as one JSON object per line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface JsonLineChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the next line whose `type` matches, or rejects on exit or timeout. */
  next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T>;
  /** Resolves when the process has exited (at once if it has). */
  exited(): Promise<void>;
  /** Recent stderr, for failure messages. */
  stderr(): string;
}

export function spawnTsx(script: string, args: string[]): JsonLineChild {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Array<{ type: string }> = [];
  const waiters: Array<() => void> = [];
  let err = '';
  let done = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    done = true;
    resolve();
    for (const w of waiters.splice(0)) w();
  }));
  child.stderr!.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-8_000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const parsed = JSON.parse(line) as { type?: unknown };
      // A JSON line without a type (the sim CLI's greeting) is a 'line'.
      if (typeof parsed === 'object' && parsed !== null) lines.push({ ...parsed, type: typeof parsed.type === 'string' ? parsed.type : 'line' });
    } catch {
      // not ours
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stdin!.on('error', () => undefined);
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  return {
    child,
    pid: child.pid,
    async next<T extends { type: string }>(type: T['type'], timeoutMs: number): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = lines.findIndex((l) => l.type === type || l.type === 'fatal');
        if (at >= 0) {
          const line = lines[at]!;
          // A fatal line stays, so every waiter sees it.
          if (line.type === 'fatal') throw new Error(`${script} failed: ${JSON.stringify(line)}\n${err}`);
          lines.splice(at, 1);
          return line as T;
        }
        if (done) throw new Error(`${script} exited (code ${child.exitCode}, signal ${child.signalCode}) before "${type}"\n${err}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for "${type}" from ${script}\n${err}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    exited: () => exit,
    stderr: () => err,
  };
}

/** SIGKILL and wait until the process is gone. */
export async function killHard(proc: JsonLineChild): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited();
}
