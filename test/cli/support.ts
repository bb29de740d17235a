/**
 * Runs the real `switchboard` bin as a child process (from a directory outside the repo, as an
 * installed bin would run) against the real HTTP stack listening on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startHttpStack, type HttpStack, type HttpStackOptions } from '../support/http.ts';
import type { TokenRole } from '../../src/db/index.ts';

export const BIN = fileURLToPath(new URL('../../bin/switchboard.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliStack extends HttpStack {
  url: string;
  /** Runs the CLI with SWITCHBOARD_URL set and the role's token (none with role null). */
  cli(args: readonly string[], role?: TokenRole | null, env?: Record<string, string>): Promise<CliRun>;
  /** Starts the CLI and returns the child, for long-running commands such as watch. */
  spawnCli(args: readonly string[], role?: TokenRole | null): ChildProcess;
}

/** The child's environment: the parent's, minus any Switchboard settings that would leak in. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHBOARD_') && k !== 'DATABASE_URL') env[k] = v;
  return { ...env, ...extra };
}

export function spawnBin(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess, timeoutMs = 30_000): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not finish in ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export async function startCliStack(options: HttpStackOptions = {}): Promise<CliStack> {
  const stack = await startHttpStack(options);
  await stack.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  const envFor = (role: TokenRole | null | undefined, extra: Record<string, string> = {}) =>
    childEnv({ SWITCHBOARD_URL: url, ...(role === null ? {} : { SWITCHBOARD_TOKEN: stack.tokens[role ?? 'admin'] }), ...extra });
  return Object.assign(stack, {
    url,
    cli: (args: readonly string[], role?: TokenRole | null, env?: Record<string, string>) => collect(spawnBin(args, envFor(role, env))),
    spawnCli: (args: readonly string[], role?: TokenRole | null) => spawnBin(args, envFor(role)),
  });
}

/** Resolves with the text once `stream` has produced output matching `pattern`. */
export function waitForOutput(stream: NodeJS.ReadableStream | null, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    if (stream === null) return reject(new Error('no stream'));
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no output matching ${pattern} in ${timeoutMs} ms; got: ${seen}`)), timeoutMs);
    stream.on('data', (chunk: Buffer | string) => {
      seen += String(chunk);
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
  });
}
