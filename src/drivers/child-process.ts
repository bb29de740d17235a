/**
 * Runs one CLI command for a driver: no shell, an explicit environment (nothing inherited, so
 * secrets reach only the child they are meant for), a deadline, AbortSignal support and bounded
 * output. The child leads its own process group so abort/timeout also reaps anything it forked
 * (virsh may spawn ssh). The promise settles only after the child has exited, so a rejected
 * call never leaves a process behind.
 */
import { spawn } from 'node:child_process';
import { abortError, DriverError } from './types.ts';

export interface RunRequest {
  readonly command: string;
  readonly args: readonly string[];
  /** The child's whole environment. LC_ALL=C is added so messages can be parsed. */
  readonly env?: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Bytes kept per stream; the rest is dropped. */
  readonly maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL to the process group. */
  readonly killGraceMs?: number;
  /** Called right after the child started (tests use it to inspect /proc/<pid>). */
  readonly onSpawn?: (child: SpawnedChild) => void;
}

export interface SpawnedChild {
  readonly pid: number;
  readonly argv: readonly string[];
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
const DEFAULT_KILL_GRACE_MS = 500;

class BoundedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Resolves with the exit status whatever it is; rejects only on abort, timeout or spawn failure. */
export function runCommand(req: RunRequest): Promise<RunResult> {
  if (req.signal.aborted) return Promise.reject(abortError(req.signal));
  const started = performance.now();
  const stdout = new BoundedBuffer(req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT);
  const stderr = new BoundedBuffer(req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT);

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(req.command, req.args, {
      env: { ...req.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    let stopReason: DriverError | undefined;
    let spawnError: DriverError | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    const stop = (reason: DriverError): void => {
      if (stopReason !== undefined) return;
      stopReason = reason;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), req.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    };
    const onAbort = (): void => stop(abortError(req.signal));
    const deadline = setTimeout(
      () => stop(new DriverError('timeout', `${req.command} gave no answer within ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    req.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('spawn', () => {
      if (child.pid !== undefined) req.onSpawn?.({ pid: child.pid, argv: [req.command, ...req.args] });
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      const missing = err.code === 'ENOENT' || err.code === 'EACCES';
      spawnError = new DriverError(
        missing ? 'config' : 'unreachable',
        missing ? `cannot run ${req.command}: ${err.code}` : `${req.command} failed to start: ${err.message}`,
        { cause: err },
      );
    });
    child.on('close', (exitCode, exitSignal) => {
      clearTimeout(deadline);
      if (killTimer !== undefined) clearTimeout(killTimer);
      req.signal.removeEventListener('abort', onAbort);
      const failure = stopReason ?? spawnError;
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      resolve({
        exitCode,
        exitSignal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: performance.now() - started,
      });
    });
  });
}
