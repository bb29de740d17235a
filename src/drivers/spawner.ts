/**
 * Starts driver commands through one long-lived helper process (spawn-helper.js) instead of
 * forking the service itself, whose fork cost grows with its memory (see the helper's header).
 * The helper is started on first use, restarted after it dies, and never keeps the service alive
 * while it has nothing to run.
 *
 * The helper runs in its own session (detached), so a SIGKILL of the service's process group
 * does not take it down before it has killed the commands it started: it kills them when its
 * IPC channel to the service closes, and each command carries a parent-death signal (setpriv)
 * in case the helper itself is killed. See the helper's header.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface SpawnRequest {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly maxOutputBytes: number;
  /** Epoch ms (wall clock): the helper refuses to start the command after it (error ENOTAFTER). */
  readonly notAfter?: number;
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

export interface SpawnHelperOptions {
  /**
   * util-linux setpriv for the parent-death signal: a path, `false` to spawn commands without
   * it, or undefined to let the helper look for it. Applies to helpers started afterwards.
   */
  readonly setpriv?: string | false;
}

type HelperMessage =
  | { type: 'ready'; pdeathsig: boolean }
  | { type: 'spawned'; id: number; pid: number }
  | ({ type: 'done'; id: number } & SpawnOutcome);

const HELPER = new URL('./spawn-helper.js', import.meta.url);

let helper: ChildProcess | null = null;
let helperPdeathsig: boolean | undefined;
let options: SpawnHelperOptions = {};
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
  const args = options.setpriv === false ? ['--no-setpriv'] : options.setpriv === undefined ? [] : [`--setpriv=${options.setpriv}`];
  // No loader flags: the helper is plain JavaScript and should stay small. Detached: its own
  // session and process group, out of reach of a kill aimed at the service's group.
  const child = fork(HELPER, args, { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', detached: true });
  helperPdeathsig = undefined;
  child.on('message', (raw) => {
    const m = raw as HelperMessage;
    if (m.type === 'ready') {
      if (helper === child) helperPdeathsig = m.pdeathsig;
      return;
    }
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
  helper.send({ type: 'run', id, command: req.command, args: req.args, env: req.env, maxOutputBytes: req.maxOutputBytes, notAfter: req.notAfter }, (err) => {
    if (!err || !pending.has(id)) return;
    pending.delete(id);
    handlers.onDone({ exitCode: null, exitSignal: null, stdout: '', stderr: '', error: { code: 'EHELPER', message: `could not reach the spawn helper: ${err.message}` } });
  });
}

/** The helper's pid, if it runs (tests check that commands are its children). */
export function spawnHelperPid(): number | undefined {
  return helper?.pid;
}

/**
 * Whether the running helper starts commands with a parent-death signal (undefined until it has
 * said so, or when no helper runs).
 */
export function spawnHelperPdeathsig(): boolean | undefined {
  return helper === null ? undefined : helperPdeathsig;
}

/** Options for helpers started from now on (tests use it to run without setpriv). */
export function configureSpawnHelper(next: SpawnHelperOptions): void {
  options = { ...next };
}
