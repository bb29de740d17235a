/**
 * Real IPMI BMCs for tests: one `ipmi_sim` (Debian's openipmi) per BMC on a free loopback UDP
 * port, each in its own temp dir. ipmi_sim hands every chassis command to a `chassis_control`
 * program; ours keeps the power state in a file and appends each call with start/end
 * timestamps to a log.
 *
 * Note: ipmi_sim runs chassis_control synchronously, so two sessions to one BMC are served one
 * after the other; concurrent commands show up in the log as back-to-back entries (gap ≈ 0),
 * not as overlapping ones. `setDelay` makes each command take longer so that is visible.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPMI_SIM, IPMITOOL, requirePeers } from '../support/peers.ts';

export type Power = 'on' | 'off';

export interface SimBmc {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dir: string;
  readonly stateFile: string;
  readonly logFile: string;
}

export interface ChassisLogEntry {
  /** Epoch milliseconds (sub-ms precision) when chassis_control started / ended. */
  readonly startMs: number;
  readonly endMs: number;
  /** ipmi_sim's operation: get, set or check. */
  readonly op: string;
  /** e.g. ['power', '1'] or ['shutdown', '1'] for set; ['power'] for get. */
  readonly args: readonly string[];
  readonly ok: boolean;
}

export interface IpmiSimFleet {
  readonly bmcs: readonly SimBmc[];
  readPower(i: number): Promise<Power>;
  readLog(i: number): Promise<ChassisLogEntry[]>;
  /** Out-of-band change, like someone pressing the power button. Not logged. */
  setPower(i: number, power: Power): Promise<void>;
  /** The BMC's next chassis command (get or set) fails with an IPMI error. */
  failNext(i: number): Promise<void>;
  /** Every chassis command of BMC i takes this long (0 to reset). */
  setDelay(i: number, ms: number): Promise<void>;
  stop(): Promise<void>;
}

export interface IpmiSimOptions {
  readonly user?: string;
  readonly initialPower?: Power;
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function chassisControlScript(dir: string): string {
  return `#!/bin/sh
# chassis_control for ipmi_sim. Called as: <script> <device> get|set|check [param [value]]...
dir=${shq(dir)}
start=$(date +%s.%N)
device=$1; op=$2; shift 2
args="$*"
delay=$(cat "$dir/delay" 2>/dev/null)
if [ -n "$delay" ] && [ "$delay" != 0 ]; then sleep "$delay"; fi
status=ok
if [ "$op" != check ] && [ -e "$dir/fail" ]; then rm -f "$dir/fail"; status=fail; fi
out=""
if [ "$status" = ok ]; then
  case "$op" in
    get)
      for p in "$@"; do
        case "$p" in
          power) if [ "$(cat "$dir/power")" = on ]; then out="$out power:1"; else out="$out power:0"; fi ;;
          boot) out="$out boot:default" ;;
        esac
      done ;;
    set)
      while [ $# -ge 2 ]; do
        case "$1" in
          power) if [ "$2" = 1 ]; then echo on > "$dir/power"; else echo off > "$dir/power"; fi ;;
          shutdown) if [ "$2" = 1 ]; then echo off > "$dir/power"; fi ;;
        esac
        shift 2
      done ;;
  esac
fi
echo "$start $(date +%s.%N) $status $op $args" >> "$dir/chassis.log"
if [ "$status" = fail ]; then echo "injected failure"; exit 1; fi
for line in $out; do echo "$line"; done
exit 0
`;
}

function lanConf(name: string, port: number, script: string, user: string, password: string): string {
  return `name "${name}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${script} 0x20"
  user 2 true "${user}" "${password}" admin 10 none md2 md5 straight
`;
}

// A BMC at address 0x20 with no sensors: enough for chassis control.
const EMULATOR_COMMANDS = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
mc_enable 0x20
`;

export async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = sock.address();
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

async function udpBound(port: number): Promise<boolean> {
  const table = await readFile('/proc/net/udp', 'utf8');
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').some((line) => line.trim().split(/\s+/)[1] === local);
}

async function waitUntilListening(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      const hint = /ENOENT/.test(output()) ? ' (ipmi_sim is not installed: apt-get install openipmi ipmitool)' : '';
      throw new Error(`ipmi_sim exited during start-up: ${output()}${hint}`);
    }
    if (await udpBound(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`ipmi_sim did not bind 127.0.0.1:${port} within 10 s: ${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  // A child that never started (ENOENT) emits no 'exit': waiting for one would hang.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
}

function parseLog(text: string): ChassisLogEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [start = '', end = '', status = '', op = '', ...args] = line.trim().split(/\s+/);
      return { startMs: Number(start) * 1000, endMs: Number(end) * 1000, op, args, ok: status === 'ok' };
    });
}

export async function startIpmiSim(count = 1, options: IpmiSimOptions = {}): Promise<IpmiSimFleet> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be a positive integer, got ${count}`);
  const root = await mkdtemp(join(tmpdir(), 'ipmi-sim-'));
  const children: ChildProcess[] = [];
  const bmcs: SimBmc[] = [];
  const user = options.user ?? 'admin';

  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild));
    await rm(root, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < count; i++) {
      const dir = join(root, `bmc${i}`);
      await mkdir(join(dir, 'persist'), { recursive: true });
      const script = join(dir, 'chassis_control.sh');
      const password = `pw${randomBytes(6).toString('hex')}`;
      const port = await freeUdpPort();
      await writeFile(script, chassisControlScript(dir));
      await chmod(script, 0o755);
      await writeFile(join(dir, 'power'), `${options.initialPower ?? 'off'}\n`);
      await writeFile(join(dir, 'chassis.log'), '');
      await writeFile(join(dir, 'lan.conf'), lanConf(`bmc${i}`, port, script, user, password));
      await writeFile(join(dir, 'bmc.emu'), EMULATOR_COMMANDS);

      const child = spawn(
        'ipmi_sim',
        ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'persist'), '-n'],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let output = '';
      const collect = (c: Buffer): void => {
        if (output.length < 8_192) output += c.toString();
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.on('error', (err) => collect(Buffer.from(err.message)));
      await waitUntilListening(child, port, () => output);
      bmcs.push({ host: '127.0.0.1', port, user, password, dir, stateFile: join(dir, 'power'), logFile: join(dir, 'chassis.log') });
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const bmc = (i: number): SimBmc => {
    const b = bmcs[i];
    if (b === undefined) throw new Error(`no BMC ${i} (have ${bmcs.length})`);
    return b;
  };

  return {
    bmcs,
    async readPower(i) {
      const text = (await readFile(bmc(i).stateFile, 'utf8')).trim();
      if (text !== 'on' && text !== 'off') throw new Error(`BMC ${i} state file holds "${text}"`);
      return text;
    },
    async readLog(i) {
      return parseLog(await readFile(bmc(i).logFile, 'utf8'));
    },
    async setPower(i, power) {
      await writeFile(bmc(i).stateFile, `${power}\n`);
    },
    async failNext(i) {
      await writeFile(join(bmc(i).dir, 'fail'), '');
    },
    async setDelay(i, ms) {
      await writeFile(join(bmc(i).dir, 'delay'), `${(ms / 1000).toFixed(3)}\n`);
    },
    stop,
  };
}

export { startIpmiSim as start };

/**
 * Whether a suite that needs ipmi_sim and ipmitool should run: test/support/peers.ts says which
 * Debian package is missing and steps aside, or fails under SWITCHBOARD_REQUIRE_PEERS=1.
 * Use as `describe.skipIf(!ipmiPeersOrSkip('my suite'))(...)`.
 */
export function ipmiPeersOrSkip(suite: string): boolean {
  return requirePeers(suite, [IPMI_SIM, IPMITOOL]);
}
