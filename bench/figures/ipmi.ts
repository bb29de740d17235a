/**
 * Issue 5: 50 real IPMI BMCs (ipmi_sim from openipmi, via test/peers/ipmi-sim.ts) powered on
 * through Switchboard (host + ipmi driver) against 50 raw `ipmitool chassis power on` runs in
 * parallel, in the same run; and what the host adds to one driver call (a query op's round trip
 * through the host minus a direct driver query, medians over one call per BMC).
 *
 * The 50 nodes are created through the host, then a fresh host restores them (no boot queries)
 * and marks them broken (a lifecycle event with no power) so `on` is allowed. 50 is below the
 * global concurrency cap (SWITCHBOARD_GLOBAL_CONCURRENCY, default 64), and every BMC is its own
 * limiter key, so no command waits for a slot.
 */
import type { Host } from '../../src/actors/types.ts';
import { createIpmiDriver } from '../../src/drivers/ipmi.ts';
import { startIpmiSim, type SimBmc } from '../../test/peers/ipmi-sim.ts';
import { createBenchDatabase } from '../lib/database.ts';
import type { Figure, FigureContext } from '../lib/figure.ts';
import { benchHost, benchSecretKey } from '../lib/host.ts';
import { median } from '../lib/stats.ts';
import { runChild } from '../lib/child.ts';
import type { RawIpmiInput } from '../lib/raw-ipmitool.ts';

const BMCS = 50;
const ROUNDS = 5;

const RAW = new URL('../lib/raw-ipmitool.ts', import.meta.url);

/** 50 raw ipmitool runs in parallel, from a small child process; resolves with their wall time. */
async function rawIpmitool(bmcs: readonly SimBmc[], verb: 'on' | 'status'): Promise<number> {
  const input: RawIpmiInput = { bmcs: bmcs.map((b) => ({ host: b.host, port: b.port, user: b.user })), verb };
  const { ms } = await runChild<{ ms: number }>(RAW, input, { timeoutMs: 60_000, env: { RAW_IPMI_PASSWORDS: JSON.stringify(bmcs.map((b) => b.password)) } });
  return ms;
}

/** Resolves when the node next shows no op in flight or pending. */
function nextIdle(host: Host, id: string): Promise<void> {
  return new Promise((resolve) => {
    const off = host.subscribe((change) => {
      if (change.node.id === id && change.node.power.inFlight === null && change.node.power.pending === null) {
        off();
        resolve();
      }
    });
  });
}

const params = (b: SimBmc) => ({ host: b.host, port: b.port, user: b.user, password: b.password });

export const ipmiFigure: Figure = {
  name: 'ipmi',
  title: `${BMCS} ipmi_sim BMCs powered on through Switchboard vs raw ipmitool`,
  async run(ctx: FigureContext) {
    const fleet = await startIpmiSim(BMCS, { initialPower: 'off' });
    const bdb = await createBenchDatabase(ctx.serverUrl, 'ipmi').catch(async (err: unknown) => {
      await fleet.stop();
      throw err;
    });
    try {
      // Warm-up: the first sessions of a fresh ipmi_sim and the first ipmitool runs are slower.
      await rawIpmitool(fleet.bmcs, 'status');
      /** One raw round: every BMC on at once with ipmitool; then off again at the BMC (not timed). */
      const rawRound = async (): Promise<number> => {
        const ms = await rawIpmitool(fleet.bmcs, 'on');
        for (let i = 0; i < BMCS; i++) {
          if ((await fleet.readPower(i)) !== 'on') throw new Error(`raw: BMC ${i} is not on`);
          await fleet.setPower(i, 'off');
        }
        return ms;
      };
      const driver = createIpmiDriver();
      const secretKey = await benchSecretKey();
      const handle = await bdb.open();
      try {
        const env = { SWITCHBOARD_SYNC_INTERVAL_MS: '0', SWITCHBOARD_VERIFY_POLL_MS: '10' };
        const creator = await benchHost(handle, { env, drivers: { ipmi: driver as never }, secretKey });
        const ids: string[] = [];
        for (const [i, b] of fleet.bmcs.entries()) {
          ids.push((await creator.host.createNode({ name: `ipmi-${i}`, driver: 'ipmi', params: params(b) }, { requestedBy: 'bench' })).id);
        }
        await creator.host.stop();

        let acked = 0;
        let allAcked: () => void = () => {};
        const { host } = await benchHost(handle, {
          env,
          drivers: { ipmi: driver as never },
          secretKey,
          hooks: {
            onCommand: (_driver, kind, _ms, outcome) => {
              if (kind === 'step' && outcome === 'ok' && ++acked === BMCS) allAcked();
            },
          },
        });
        await host.start();
        try {
          for (const id of ids) await host.lifecycle(id, 'mark_broken', { requestedBy: 'bench' });
          /** One round through Switchboard: every node on at once; then off again (not timed). */
          const switchboardRound = async (): Promise<{ acceptedMs: number; ackMs: number; verifiedMs: number }> => {
            acked = 0;
            const ackedAll = new Promise<void>((r) => (allAcked = r));
            const verified = Promise.all(ids.map((id) => nextIdle(host, id)));
            const t0 = performance.now();
            const outcomes = await Promise.all(ids.map((id) => host.requestPower(id, 'on', { requestedBy: 'bench' })));
            const acceptedMs = performance.now() - t0;
            if (outcomes.some((o) => o.result !== 'accepted')) throw new Error(`not every power on was accepted: ${outcomes.map((o) => o.result).join(',')}`);
            await ackedAll;
            const ackMs = performance.now() - t0;
            await verified;
            const verifiedMs = performance.now() - t0;
            for (let i = 0; i < BMCS; i++) {
              if ((await fleet.readPower(i)) !== 'on') throw new Error(`switchboard: BMC ${i} is not on`);
              const view = host.getNode(ids[i]!);
              if (view?.power.observed !== 'on') throw new Error(`switchboard: node ${i} shows ${view?.power.observed}`);
            }
            const off = Promise.all(ids.map((id) => nextIdle(host, id)));
            await Promise.all(ids.map((id) => host.requestPower(id, 'off', { requestedBy: 'bench' })));
            await off;
            return { acceptedMs, ackMs, verifiedMs };
          };

          // Alternating rounds, best of each: 50 parallel ipmitool runs on 2 cores vary by ±30 %.
          const raw: number[] = [];
          const rounds: { acceptedMs: number; ackMs: number; verifiedMs: number }[] = [];
          for (let round = 0; round < ROUNDS; round++) {
            raw.push(await rawRound());
            await new Promise((r) => setTimeout(r, 1_100)); // the ipmi driver's 1 s minimum interval per BMC
            rounds.push(await switchboardRound());
            ctx.log(`round ${round + 1}: raw ${raw[round]!.toFixed(0)} ms, switchboard ${rounds[round]!.ackMs.toFixed(0)} ms (accepted ${rounds[round]!.acceptedMs.toFixed(0)} ms)`);
          }
          const rawMs = Math.min(...raw);
          const best = rounds.reduce((a, b) => (b.ackMs < a.ackMs ? b : a));
          const ackMs = best.ackMs;
          const acceptedMs = best.acceptedMs;
          const verifiedMs = Math.min(...rounds.map((r) => r.verifiedMs));

          ctx.log('per-call overhead: one direct driver query and one query op through the host per BMC');
          await new Promise((r) => setTimeout(r, 1_100)); // the ipmi driver's 1 s minimum interval per BMC
          const rawCalls: number[] = [];
          const hostCalls: number[] = [];
          for (const [i, b] of fleet.bmcs.entries()) {
            let t = performance.now();
            await driver.query({ nodeId: ids[i]!, bmc: `bench-${i}`, params: params(b) }, new AbortController().signal);
            rawCalls.push(performance.now() - t);
            const idle = nextIdle(host, ids[i]!);
            t = performance.now();
            await host.requestPower(ids[i]!, 'query', { requestedBy: 'bench' });
            await idle;
            hostCalls.push(performance.now() - t);
          }
          const rawMedian = median(rawCalls);
          const hostMedian = median(hostCalls);
          const where = `${BMCS} ipmi_sim on loopback, ${bdb.spec.backend}`;
          return [
            {
              key: 'ipmi.power_on_50_ms',
              label: `${BMCS} BMCs powered on through Switchboard (all acknowledged)`,
              value: ackMs,
              unit: 'ms',
              baseline: rawMs,
              target: { on: 'ratio', better: 'lower', limit: 1.2 },
              note: `${where}; best of ${ROUNDS} alternating rounds; from the ${BMCS} requests to the last BMC's acknowledgement (all accepted and committed after ${acceptedMs.toFixed(0)} ms); ` +
                `baseline: ${BMCS} raw \`ipmitool -I lanplus chassis power on\` in parallel from a small child process (the driver also passes -v)`,
            },
            {
              key: 'ipmi.power_on_50_verified_ms',
              label: `${BMCS} BMCs powered on and verified (ops succeeded)`,
              value: verifiedMs,
              unit: 'ms',
              baseline: rawMs,
              target: null,
              note: 'includes the verifying query, which the ipmi driver spaces at least 1 s (minIntervalMs) after the power on; no target',
            },
            {
              key: 'ipmi.call_ms',
              label: 'one query: through the host vs direct driver call (median)',
              value: hostMedian,
              unit: 'ms',
              baseline: rawMedian,
              target: null,
              note: `median of ${BMCS} host query ops (request, commit, driver call, commit, published) vs ${BMCS} direct driver.query calls`,
            },
            {
              key: 'ipmi.overhead_ms',
              label: 'per-call overhead the host adds to a driver call (median host - median raw)',
              value: hostMedian - rawMedian,
              unit: 'ms',
              baseline: null,
              target: null,
              note: `median of per-BMC differences: ${median(hostCalls.map((h, i) => h - rawCalls[i]!)).toFixed(1)} ms`,
            },
          ];
        } finally {
          await host.stop();
        }
      } finally {
        await handle.close();
      }
    } finally {
      await bdb.dispose();
      await fleet.stop();
    }
  },
};
