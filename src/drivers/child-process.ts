/**
 * Runs one CLI command for a driver: no shell, an explicit environment (nothing inherited, so
 * secrets reach only the child they are meant for), a deadline, AbortSignal support and bounded
 * output. The child is started by the spawn helper (spawner.ts), leads its own process group,
 * and abort/timeout kill that whole group, so anything it forked (virsh may spawn ssh) goes too.
 * The promise settles only after the child has exited, so a rejected call never leaves a
 * process behind; a killed service leaves none either (see spawner.ts). A start window
 * (`notAfter`) is enforced by the helper right before the spawn.
 */
import { spawnViaHelper } from './spawner.ts';
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
  /**
   * Epoch ms (wall clock): the command must not start after this instant. The helper checks it
   * just before spawning; a command refused for it rejects with DriverError 'not_sent'.
   */
  readonly notAfter?: number;
  /** Called right after the child started (tests use it to inspect /proc/<pid>). */
  readonly onSpawn?: (child: SpawnedChild) => void;
}

/** What a driver that runs a CLI command takes from its factory besides its own options. */
export interface CommandDriverDeps {
  /** Extra environment for the child, e.g. PATH. Never the parent's whole environment. */
  readonly childEnv?: Readonly<Record<string, string>>;
  /** Called right after each child started (tests inspect /proc/<pid>). */
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

/** Resolves with the exit status whatever it is; rejects only on abort, timeout or spawn failure. */
export function runCommand(req: RunRequest): Promise<RunResult> {
  if (req.signal.aborted) return Promise.reject(abortError(req.signal));
  const started = performance.now();

  return new Promise<RunResult>((resolve, reject) => {
    let pid: number | undefined;
    let stopReason: DriverError | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (sig: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, sig);
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

    spawnViaHelper(
      {
        command: req.command,
        args: req.args,
        env: { ...req.env, LC_ALL: 'C' },
        maxOutputBytes: req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
        ...(req.notAfter === undefined ? {} : { notAfter: req.notAfter }),
      },
      {
        onSpawn(spawnedPid) {
          pid = spawnedPid;
          // Stopped before the child existed: kill it now that it does.
          if (stopReason !== undefined) killGroup('SIGTERM');
          req.onSpawn?.({ pid: spawnedPid, argv: [req.command, ...req.args] });
        },
        onDone(outcome) {
          clearTimeout(deadline);
          if (killTimer !== undefined) clearTimeout(killTimer);
          req.signal.removeEventListener('abort', onAbort);
          if (outcome.error?.code === 'ENOTAFTER' && req.notAfter !== undefined) {
            // Refused before the spawn: it provably never ran, whatever stopped it meanwhile.
            reject(new DriverError('not_sent', `${req.command} was not started: its start window closed at ${new Date(req.notAfter).toISOString()}`));
            return;
          }
          if (stopReason !== undefined) {
            reject(stopReason);
            return;
          }
          if (outcome.error?.code === 'EHELPER') {
            // The helper died with the command running: nobody else will reap its group.
            killGroup('SIGKILL');
            reject(new DriverError('unreachable', `${req.command}: ${outcome.error.message}`));
            return;
          }
          if (outcome.error !== undefined) {
            const missing = outcome.error.code === 'ENOENT' || outcome.error.code === 'EACCES';
            reject(new DriverError(
              missing ? 'config' : 'unreachable',
              missing ? `cannot run ${req.command}: ${outcome.error.code}` : `${req.command} failed to start: ${outcome.error.message}`,
            ));
            return;
          }
          resolve({ exitCode: outcome.exitCode, exitSignal: outcome.exitSignal, stdout: outcome.stdout, stderr: outcome.stderr, durationMs: performance.now() - started });
        },
      },
    );
  });
}
