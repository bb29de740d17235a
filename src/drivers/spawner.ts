/**
 * Starts driver commands through one long-lived helper process (spawn-helper.js) instead of
 * forking the service itself, whose fork cost grows with its memory (see the helper's header).
 * The helper is started on first use, restarted after it dies, and never keeps the service alive
 * while it has nothing to run.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface SpawnRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly maxOutputBytes: number;
}

export interface SpawnOutcome {
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the command could not be started (ENOENT, EACCES…) or the helper died. */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface SpawnHandlers {
  onSpawn(pid: number): void;
  onDone(outcome: SpawnOutcome): void;
}

type HelperMessage =
  | { type: 'spawned'; id: number; pid: number }
  | ({ type: 'done'; id: number } & SpawnOutcome);

const HELPER = new URL('./spawn-helper.js', import.meta.url);

let helper: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, SpawnHandlers>();

function failAll(message: string): void {
  const handlers = [...pending.values()];
  pending.clear();
  for (const h of handlers) h.onDone({ exitCode: null, exitSignal: null, stdout: '', stderr: '', error: { code: 'EHELPER', message } });
}

function refWhileBusy(child: ChildProcess): void {
  // A pending run keeps the service alive (as a child process of its own would); idle, it does not.
  if (pending.size > 0) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

function startHelper(): ChildProcess {
  // No loader flags: the helper is plain JavaScript and should stay small.
  const child = fork(HELPER, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
  child.on('message', (raw) => {
    const m = raw as HelperMessage;
    const handlers = pending.get(m.id);
    if (!handlers) return;
    if (m.type === 'spawned') handlers.onSpawn(m.pid);
    else {
      pending.delete(m.id);
      handlers.onDone(m);
      refWhileBusy(child);
    }
  });
  const gone = (why: string): void => {
    if (helper !== child) return;
    helper = null;
    failAll(`the spawn helper ${why}; the command's outcome is unknown`);
  };
  child.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
  child.on('error', (err) => gone(`failed: ${err.message}`));
  return child;
}

/** Runs a command in the helper; `onDone` is called exactly once. */
export function spawnViaHelper(req: SpawnRequest, handlers: SpawnHandlers): void {
  helper ??= startHelper();
  const id = nextId++;
  pending.set(id, handlers);
  refWhileBusy(helper);
  helper.send({ type: 'run', id, command: req.command, args: req.args, env: req.env, maxOutputBytes: req.maxOutputBytes }, (err) => {
    if (!err || !pending.has(id)) return;
    pending.delete(id);
    handlers.onDone({ exitCode: null, exitSignal: null, stdout: '', stderr: '', error: { code: 'EHELPER', message: `could not reach the spawn helper: ${err.message}` } });
  });
}

/** The helper's pid, if it runs (tests check that commands are its children). */
export function spawnHelperPid(): number | undefined {
  return helper?.pid;
}
