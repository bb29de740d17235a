/**
 * Runs a bench script in its own Node process (`node [flags] --import tsx script`) with a JSON
 * argument, and returns the JSON it prints as its last stdout line. Used where a measurement must
 * not share a process with what it measures (heap, load generation).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildOptions {
  readonly nodeFlags?: readonly string[];
  readonly timeoutMs: number;
  /** Added to the child's environment (for secrets that must not show in its argv). */
  readonly env?: Readonly<Record<string, string>>;
  /** Let the child's stderr through as it comes (its progress), instead of keeping it for errors. */
  readonly passStderr?: boolean;
}

export function runChild<T>(scriptUrl: URL, input: unknown, options: ChildOptions): Promise<T> {
  const script = fileURLToPath(scriptUrl);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', script, JSON.stringify(input)], {
      stdio: ['ignore', 'pipe', options.passStderr ? 'inherit' : 'pipe'],
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 16_384) stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${script} exited with ${code ?? signal}${stderr ? `: ${stderr.trim().slice(-2000)}` : ''}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON result: ${stdout.slice(-500)} ${stderr.slice(-500)}`));
      }
    });
  });
}

/** In a child: reads the JSON argument, runs main, prints its JSON result as the last line. */
export function childMain<I, O>(main: (input: I) => Promise<O>): void {
  const raw = process.argv[2];
  if (raw === undefined) {
    console.error('expected one JSON argument');
    process.exit(2);
  }
  main(JSON.parse(raw) as I).then(
    (out) => {
      process.stdout.write(`\n${JSON.stringify(out)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack : String(err));
      process.exit(1);
    },
  );
}
