/**
 * The raw baseline of the ipmi figure, in its own small process: fork() costs time in proportion
 * to the parent's memory, so 50 ipmitool runs started from the bench process (PGlite open,
 * ~1 GB) were staggered by ~16 ms each, which is not what raw ipmitool costs.
 *
 * Input: the BMCs (passwords come in RAW_IPMI_PASSWORDS, a JSON array, not on the command line).
 * Output: milliseconds until every `chassis power <verb>` has answered.
 */
import { execFile } from 'node:child_process';
import { childMain } from './child.ts';

export interface RawIpmiInput {
  readonly bmcs: readonly { readonly host: string; readonly port: number; readonly user: string }[];
  readonly verb: 'on' | 'status';
}

function rawIpmitool(bmc: RawIpmiInput['bmcs'][number], password: string, verb: 'on' | 'status'): Promise<void> {
  const args = ['-I', 'lanplus', '-C', '3', '-H', bmc.host, '-p', String(bmc.port), '-U', bmc.user, '-E', '-N', '1', '-R', '1', 'chassis', 'power', verb];
  return new Promise((resolve, reject) => {
    execFile('ipmitool', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: password } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ipmitool power ${verb} ${bmc.port}: ${stderr || err.message}`));
      else if (!/Chassis Power (Control: Up\/On|is off)/.test(stdout)) reject(new Error(`ipmitool power ${verb} ${bmc.port}: ${stdout}`));
      else resolve();
    });
  });
}

async function main(input: RawIpmiInput): Promise<{ ms: number }> {
  const passwords = JSON.parse(process.env.RAW_IPMI_PASSWORDS ?? '[]') as string[];
  if (passwords.length !== input.bmcs.length) throw new Error(`expected ${input.bmcs.length} passwords in RAW_IPMI_PASSWORDS`);
  const t0 = performance.now();
  await Promise.all(input.bmcs.map((b, i) => rawIpmitool(b, passwords[i]!, input.verb)));
  return { ms: performance.now() - t0 };
}

childMain(main);
