/**
 * A private, real `libvirtd` for tests, serving libvirt's test driver on a unix socket in a
 * temp dir. Recipe (libvirt 9 on Debian 12, run as root or as a user):
 *
 *   libvirtd -f <tmp>/libvirtd.conf -p <tmp>/libvirtd.pid   with env LIBVIRT_DRIVER_DIR=<empty dir>
 *   libvirtd.conf: unix_sock_dir = "<tmp>/sock", auth_unix_rw/ro = "none", log_outputs = "3:stderr"
 *   URI: test+unix:///default?socket=<tmp>/sock/libvirt-sock
 *
 * The empty driver dir keeps the daemon from loading qemu/lxc/network drivers (the test driver
 * is built in); TCP/TLS listening is off by default without --listen. The test driver keeps
 * `test:///default` state only while a connection is open, so a holder (`virsh` in interactive
 * mode, stdin kept open) stays connected for the harness's lifetime.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
// libvirtd lives in /usr/sbin, which is not on every PATH.
const PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`;

export type DomainSetup = 'running' | 'shut off' | 'paused';

export interface PrivateLibvirtd {
  readonly uri: string;
  readonly socketPath: string;
  /** Defines a test-driver domain and brings it to the given state. */
  defineDomain(name: string, state: DomainSetup): Promise<void>;
  /** virsh's domstate text, e.g. "running", "shut off". */
  domstate(name: string): Promise<string>;
  /** Runs any virsh command against the daemon (for setting up odd states). */
  virsh(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function domainXml(name: string): string {
  return `<domain type='test'>
  <name>${xmlEscape(name)}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
`;
}

async function waitFor(what: string, check: () => Promise<boolean>, isDead: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const dead = isDead();
    if (dead !== undefined) throw new Error(`${what}: ${dead}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not ready within 15 s`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

function captureOutput(child: ChildProcess): () => string {
  let text = '';
  child.on('error', (err) => {
    text += `${err.message}\n`;
  });
  const collect = (c: Buffer): void => {
    if (text.length < 16_384) text += c.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return () => text;
}

export async function startLibvirtd(): Promise<PrivateLibvirtd> {
  const root = await mkdtemp(join(tmpdir(), 'libvirtd-'));
  const sockDir = join(root, 'sock');
  const driverDir = join(root, 'no-drivers');
  await mkdir(sockDir);
  await mkdir(driverDir);
  const conf = join(root, 'libvirtd.conf');
  await writeFile(
    conf,
    [
      `unix_sock_dir = "${sockDir}"`,
      'unix_sock_rw_perms = "0700"',
      'unix_sock_ro_perms = "0700"',
      'unix_sock_admin_perms = "0700"',
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      'log_outputs = "3:stderr"',
      '',
    ].join('\n'),
  );
  const socketPath = join(sockDir, 'libvirt-sock');
  const uri = `test+unix:///default?socket=${socketPath}`;
  const children: ChildProcess[] = [];

  const stop = async (): Promise<void> => {
    // Holder first, then the daemon.
    for (const child of [...children].reverse()) await stopChild(child);
    await rm(root, { recursive: true, force: true });
  };

  const virsh = async (...args: string[]): Promise<string> => {
    const { stdout } = await exec('virsh', ['-q', '-c', uri, ...args], { env: { LC_ALL: 'C' }, timeout: 10_000 });
    return stdout.trim();
  };

  try {
    const daemon = spawn('libvirtd', ['-f', conf, '-p', join(root, 'libvirtd.pid')], {
      env: { PATH, LIBVIRT_DRIVER_DIR: driverDir, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(daemon);
    const daemonOutput = captureOutput(daemon);
    const daemonDead = (): string | undefined =>
      daemon.exitCode !== null || daemon.signalCode !== null || daemon.pid === undefined
        ? `libvirtd did not run: ${daemonOutput()}`
        : undefined;
    await waitFor(
      'libvirtd socket',
      () => access(socketPath).then(() => true, () => false),
      daemonDead,
    );

    const holder = spawn('virsh', ['-c', uri], { env: { LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(holder);
    const holderOutput = captureOutput(holder);
    // The interactive prompt appears once virsh has connected.
    await waitFor(
      'virsh holder connection',
      async () => holderOutput().includes('virsh #'),
      () => daemonDead() ?? (holder.exitCode !== null ? `holder exited: ${holderOutput()}` : undefined),
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    uri,
    socketPath,
    virsh,
    async defineDomain(name, state) {
      const file = join(root, `domain-${Date.now()}-${Math.random().toString(36).slice(2)}.xml`);
      await writeFile(file, domainXml(name));
      await virsh('define', '--file', file);
      if (state !== 'shut off') await virsh('start', '--domain', name);
      if (state === 'paused') await virsh('suspend', '--domain', name);
    },
    async domstate(name) {
      return virsh('domstate', '--domain', name);
    },
    stop,
  };
}

export { startLibvirtd as start };
