/**
 * Test tiers: the suites that need a real peer from Debian (ipmi_sim, ipmitool, libvirtd, virsh,
 * Chromium) run where it is installed. Where one is missing the suite steps aside with a banner
 * naming the program and the package to install, so `npm test` passes on any machine and says
 * what it did not run. With SWITCHBOARD_REQUIRE_PEERS=1 (set by .ci/run) a missing peer is a
 * failure instead.
 *
 *   const run = requirePeers('virsh driver against a private libvirtd', [VIRSH, LIBVIRTD]);
 *   describe.runIf(run)('...', () => { ... });
 *
 * The end-of-run summary (`peerSummaryReporter`, in vitest.config.ts) lists every suite that
 * stepped aside. Imports nothing from vitest at run time: test peers are also loaded by child
 * processes.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Reporter } from 'vitest/node';

export interface Peer {
  /** The program, looked up on PATH (and in `alsoIn`). */
  readonly command: string;
  /** The Debian package that installs it. */
  readonly package: string;
  /** Directories searched after PATH: daemons live in /usr/sbin, which is not on every PATH. */
  readonly alsoIn?: readonly string[];
}

export const IPMI_SIM: Peer = { command: 'ipmi_sim', package: 'openipmi' };
export const IPMITOOL: Peer = { command: 'ipmitool', package: 'ipmitool' };
export const LIBVIRTD: Peer = { command: 'libvirtd', package: 'libvirt-daemon', alsoIn: ['/usr/sbin', '/sbin'] };
export const VIRSH: Peer = { command: 'virsh', package: 'libvirt-clients' };
export const CHROMIUM: Peer = { command: 'chromium', package: 'chromium' };
/** For the parent-death signal of driver commands; looked up where src/drivers/spawn-helper.js looks. */
export const SETPRIV: Peer = { command: 'setpriv', package: 'util-linux', alsoIn: ['/usr/bin', '/bin', '/usr/sbin', '/sbin'] };

/** First line of every banner; the summary reporter collects the banners by it. */
const MARK = '*** STEPPED ASIDE:';
export const REQUIRE_PEERS = process.env.SWITCHBOARD_REQUIRE_PEERS === '1';

/** The program's path, or undefined when it is not installed where the tests look. */
export function findCommand(peer: Peer): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...(peer.alsoIn ?? [])].filter((d) => d !== '');
  for (const dir of dirs) {
    const file = join(dir, peer.command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function missingPeers(peers: readonly Peer[]): Peer[] {
  return peers.filter((peer) => findCommand(peer) === undefined);
}

/** "ipmitool (Debian package ipmitool) and virsh (Debian package libvirt-clients) not found". */
export function describeMissing(missing: readonly Peer[]): string {
  const what = missing.map((p) => `${p.command} (Debian package ${p.package})`).join(' and ');
  const packages = [...new Set(missing.map((p) => p.package))].join(' ');
  return `${what} not found on PATH; apt-get install ${packages}`;
}

/**
 * Whether the suite should run. Everything present: true, silently. Something missing: a
 * banner naming what and which package, then false (the suite steps aside); with
 * SWITCHBOARD_REQUIRE_PEERS=1 it throws instead, so the test file fails with that message.
 */
export function requirePeers(suite: string, peers: readonly Peer[]): boolean {
  const missing = missingPeers(peers);
  if (missing.length === 0) return true;
  if (REQUIRE_PEERS) throw new Error(`SWITCHBOARD_REQUIRE_PEERS=1, and ${suite} cannot run: ${describeMissing(missing)}`);
  console.warn(
    `\n${MARK} ${suite}\n` +
      `*** ${describeMissing(missing)}\n` +
      `*** SWITCHBOARD_REQUIRE_PEERS=1 makes this a failure.\n`,
  );
  return false;
}

/**
 * A vitest reporter (add it beside 'default') that repeats, at the end of the run, the banner
 * of every suite that stepped aside, with its file: the per-file banners scroll away in a long run.
 */
export function peerSummaryReporter(): Reporter {
  const banners: string[] = [];
  let fileOf = (_taskId: string): string | undefined => undefined;
  return {
    onInit(vitest) {
      fileOf = (taskId) => {
        const entity = vitest.state.getReportedEntityById(taskId);
        return entity === undefined ? undefined : (entity.type === 'module' ? entity : entity.module).relativeModuleId;
      };
    },
    onUserConsoleLog(log) {
      const at = log.content.indexOf(MARK);
      if (at === -1) return;
      const [suite = '', why = ''] = log.content.slice(at + MARK.length).split('\n');
      const file = log.taskId === undefined ? undefined : fileOf(log.taskId);
      const where = file === undefined || suite.includes(file) ? '' : ` [${file}]`;
      banners.push(`  ${suite.trim()}${where}\n    ${why.replace(/^\*\*\* /, '')}`);
    },
    onTestRunEnd() {
      if (banners.length === 0) return;
      process.stdout.write(
        `\n*** ${banners.length} suite(s) stepped aside for a missing peer (SWITCHBOARD_REQUIRE_PEERS=1 makes this a failure):\n` +
          `${banners.join('\n')}\n\n`,
      );
    },
  };
}
