// The spawn helper: a small process that starts driver commands (ipmitool, virsh) for the
// service. fork() copies the parent's page tables, so a spawn from the service itself costs
// time in proportion to its memory and blocks its event loop meanwhile: 16 ms per spawn with an
// embedded PGlite open, 0.8 s for 50 BMCs at once. From this process it costs under 2 ms.
//
// Protocol (IPC, JSON), driven by src/drivers/spawner.ts:
//   in:  {type: 'run', id, command, args, env, maxOutputBytes}
//   out: {type: 'spawned', id, pid}
//        {type: 'done', id, exitCode, exitSignal, stdout, stderr, error?: {code, message}}
// Killing is the service's job (it kills the child's process group by pid). When the service
// goes away (the IPC channel closes), this process kills every group it started and exits.
// Plain JavaScript so it starts without a TypeScript loader, wherever the service runs.
import { spawn } from 'node:child_process';

/** @type {Map<number, number>} run id -> pid of a running child (leader of its own group) */
const running = new Map();

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

/** @param {{id: number, command: string, args: string[], env: Record<string, string>, maxOutputBytes: number}} req */
function run(req) {
  const stdout = boundedBuffer(req.maxOutputBytes);
  const stderr = boundedBuffer(req.maxOutputBytes);
  /** @type {{code: string, message: string} | undefined} */
  let error;
  const child = spawn(req.command, req.args, { env: req.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
  child.stdout.on('data', (c) => stdout.push(c));
  child.stderr.on('data', (c) => stderr.push(c));
  child.on('spawn', () => {
    if (child.pid === undefined) return;
    running.set(req.id, child.pid);
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

process.on('message', (message) => {
  const m = /** @type {{type?: string}} */ (message);
  if (m.type === 'run') run(/** @type {never} */ (m));
});

process.on('disconnect', () => {
  for (const pid of running.values()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
});
