// The spawn helper: a small process that starts driver commands (ipmitool, virsh) for the
// service. fork() copies the parent's page tables, so a spawn from the service itself costs
// time in proportion to its memory and blocks its event loop meanwhile: 16 ms per spawn with an
// embedded PGlite open, 0.8 s for 50 BMCs at once. From this process it costs under 2 ms.
//
// Protocol (IPC, JSON), driven by src/drivers/spawner.ts:
//   argv: [--setpriv=<path> | --no-setpriv]   (default: look for util-linux setpriv)
//   out: {type: 'ready', pdeathsig: boolean}   once, at start
//   in:  {type: 'run', id, command, args, env, maxOutputBytes, notAfter?}
//   out: {type: 'spawned', id, pid}
//        {type: 'done', id, exitCode, exitSignal, stdout, stderr, error?: {code, message}}
// error.code is ENOTAFTER when the command's start window (notAfter, epoch ms) had closed: it
// is checked here, just before the spawn, the last point before the command can reach a BMC.
//
// No orphans (invariant 10: child processes die with the service). Killing a running command
// is the service's job (it kills the child's process group by pid); this process makes sure
// nothing outlives the service when the service cannot do it:
// - The service forks this helper in its own session (spawner.ts), so a SIGKILL of the
//   service's whole process group does not reach it. When the service goes away for any reason
//   the IPC channel closes ('disconnect'); this process then kills every group it started and
//   exits. As a last resort, a poll notices that the parent pid changed (re-parented).
// - Each command is started as `setpriv --pdeathsig KILL -- command args` (util-linux), which
//   sets PR_SET_PDEATHSIG and execs the command in the same pid: if this helper dies (even by
//   SIGKILL, even together with the service), the kernel kills the command. PDEATHSIG fires
//   when the parent *thread* exits; libuv spawns from this process's main thread, and the
//   helper has no other threads that spawn. It covers the command itself, not what the command
//   forked (virsh's ssh); those are reached by the group kills above.
//   Without a usable setpriv, commands are spawned directly (one warning on stderr); then only
//   the SIGKILL of this helper together with the service can leave a command running.
// Plain JavaScript so it starts without a TypeScript loader, wherever the service runs.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** @type {Map<number, number>} run id -> pid of a running child (leader of its own group) */
const running = new Map();

/** The default search path of execvp() and libuv when the child's environment has no PATH. */
const DEFAULT_PATH = '/usr/bin:/bin';
const SETPRIV_PLACES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'];

/** @param {string} file */
function isExecutableFile(file) {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * setpriv's path if it can set a parent-death signal here (util-linux >= 2.33), else null.
 * @returns {string | null}
 */
function findSetpriv() {
  const flag = process.argv.slice(2).find((a) => a === '--no-setpriv' || a.startsWith('--setpriv='));
  if (flag === '--no-setpriv') return null;
  const explicit = flag?.slice('--setpriv='.length);
  const candidates = explicit ? [explicit] : SETPRIV_PLACES;
  for (const file of candidates) {
    if (!isExecutableFile(file)) continue;
    // Probe: an old setpriv without --pdeathsig would fail every command.
    const probe = spawnSync(file, ['--pdeathsig', 'KILL', '--', file, '--version'], { stdio: 'ignore', env: {}, timeout: 5_000 });
    if (probe.status === 0) return file;
  }
  if (flag === undefined || explicit) {
    process.stderr.write(`spawn-helper: no usable setpriv (util-linux >= 2.33) at ${candidates.join(', ')}; ` +
      'driver commands are spawned without a parent-death signal and survive a SIGKILL of this helper together with the service\n');
  }
  return null;
}

const setpriv = findSetpriv();

/**
 * Where execvp() would find the command, as an error if nowhere: through setpriv, a missing
 * program would otherwise show up as setpriv's exit code 127, not as ENOENT.
 * @param {string} command
 * @param {Record<string, string>} env
 * @returns {{code: string, message: string} | undefined}
 */
function lookUp(command, env) {
  let sawUnexecutable = false;
  const places = command.includes('/') ? [command] : (env.PATH ?? DEFAULT_PATH).split(delimiter).map((dir) => join(dir || '.', command));
  for (const file of places) {
    if (isExecutableFile(file)) return undefined;
    try {
      if (statSync(file).isFile()) sawUnexecutable = true;
    } catch {
      // not there
    }
  }
  const code = sawUnexecutable ? 'EACCES' : 'ENOENT';
  return { code, message: `spawn ${command} ${code}` };
}

/** @param {number} limit */
function boundedBuffer(limit) {
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  return {
    /** @param {Buffer} chunk */
    push(chunk) {
      const room = limit - size;
      if (room <= 0) return;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(kept);
      size += kept.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** @param {object} message */
function send(message) {
  if (process.connected) process.send?.(message);
}

/**
 * @param {number} id
 * @param {{code: string, message: string}} error
 */
function refuse(id, error) {
  send({ type: 'done', id, exitCode: null, exitSignal: null, stdout: '', stderr: '', error });
}

/** @param {{id: number, command: string, args: string[], env: Record<string, string>, maxOutputBytes: number, notAfter?: number}} req */
function run(req) {
  const stdout = boundedBuffer(req.maxOutputBytes);
  const stderr = boundedBuffer(req.maxOutputBytes);
  /** @type {{code: string, message: string} | undefined} */
  let error;
  if (setpriv !== null) {
    const missing = lookUp(req.command, req.env);
    if (missing) {
      refuse(req.id, missing);
      return;
    }
  }
  // The last check before the command can reach a BMC: nothing async between it and the spawn.
  if (typeof req.notAfter === 'number' && Date.now() > req.notAfter) {
    refuse(req.id, { code: 'ENOTAFTER', message: `start window closed at ${new Date(req.notAfter).toISOString()}` });
    return;
  }
  const [file, argv] = setpriv === null ? [req.command, req.args] : [setpriv, ['--pdeathsig', 'KILL', '--', req.command, ...req.args]];
  const child = spawn(file, argv, { env: req.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
  // Known from here on, so a disconnect right now still kills it.
  if (child.pid !== undefined) running.set(req.id, child.pid);
  child.stdout.on('data', (c) => stdout.push(c));
  child.stderr.on('data', (c) => stderr.push(c));
  child.on('spawn', () => {
    if (child.pid === undefined) return;
    send({ type: 'spawned', id: req.id, pid: child.pid });
  });
  child.on('error', (err) => {
    error = { code: /** @type {NodeJS.ErrnoException} */ (err).code ?? 'EUNKNOWN', message: err.message };
  });
  child.on('close', (exitCode, exitSignal) => {
    running.delete(req.id);
    send({ type: 'done', id: req.id, exitCode, exitSignal, stdout: stdout.text(), stderr: stderr.text(), ...(error ? { error } : {}) });
  });
}

/** Kills every group this helper started and exits. */
function shutDown() {
  for (const pid of running.values()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
}

process.on('message', (message) => {
  const m = /** @type {{type?: string}} */ (message);
  if (m.type === 'run') run(/** @type {never} */ (m));
});

// The service is gone (exit, crash, SIGKILL alone or with its group): nobody will kill these.
process.on('disconnect', shutDown);
for (const signal of /** @type {const} */ (['SIGTERM', 'SIGHUP', 'SIGINT'])) process.on(signal, shutDown);

// Last resort, should 'disconnect' ever not come: re-parented means the service is gone.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutDown();
}, 1_000).unref();

send({ type: 'ready', pdeathsig: setpriv !== null });
